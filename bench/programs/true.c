/* A static true: what fork_exec runs, the same small image in every setting. */
int main(void)
{
	return 0;
}
