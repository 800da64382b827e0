/* A module for test_gc_dlroots: one pointer in its bss. */
void *dlroot_slot;
