#include <cstdio>
int main() { std::puts("postern: work in progress"); return 0; }
