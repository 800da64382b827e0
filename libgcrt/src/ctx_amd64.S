/* ctx_amd64.S - the user-level context switch of goroutines (x86-64 SysV).
 * See sched.c for the walk-through.
 *
 * A switched-out context is just a stack pointer: the six callee-saved
 * registers are pushed on the context's own stack, so a parked goroutine's
 * registers lie inside [sched_sp, stack_hi) and a conservative GC that
 * scans that range sees them. Layout at sched_sp (lowest address first):
 *   r15 r14 r13 r12 rbx rbp <return address>
 * so the frame-pointer chain starts at *(sched_sp + 40) with the first PC
 * at *(sched_sp + 48). Caller-saved registers need no saving: the switch
 * is an ordinary call. MXCSR and the x87 control word are not switched
 * (all goroutines share the defaults, as in Go). */
#if defined(__x86_64__)
    .text

/* void gcrt__ctx_switch(uintptr_t *save_sp, uintptr_t new_sp) */
    .globl gcrt__ctx_switch
    .hidden gcrt__ctx_switch
    .type gcrt__ctx_switch, @function
    .p2align 4
gcrt__ctx_switch:
    .cfi_startproc
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .cfi_endproc
    .size gcrt__ctx_switch, . - gcrt__ctx_switch

/* The first switch into a new goroutine "returns" here with the entry
 * function in r12 and its argument in r13 (see gcrt__ctx_init); rbp is 0,
 * which ends frame-pointer walks. The entry never returns. */
    .globl gcrt__ctx_start
    .hidden gcrt__ctx_start
    .type gcrt__ctx_start, @function
    .p2align 4
gcrt__ctx_start:
    .cfi_startproc
    .cfi_undefined rip
    movq %r13, %rdi
    callq *%r12
    ud2
    .cfi_endproc
    .size gcrt__ctx_start, . - gcrt__ctx_start
/* void gcrt_enter_blocking(void): public. Saves the caller's callee-saved
 * registers (they may hold heap pointers during the blocking call, when
 * the stack below the caller is not scanned) and passes them with the
 * caller's stack pointer to gcrt__enter_blocking (schedule.c). */
    .globl gcrt_enter_blocking
    .type gcrt_enter_blocking, @function
    .p2align 4
gcrt_enter_blocking:
    .cfi_startproc
    pushq %rbp
    .cfi_adjust_cfa_offset 8
    pushq %rbx
    .cfi_adjust_cfa_offset 8
    pushq %r12
    .cfi_adjust_cfa_offset 8
    pushq %r13
    .cfi_adjust_cfa_offset 8
    pushq %r14
    .cfi_adjust_cfa_offset 8
    pushq %r15
    .cfi_adjust_cfa_offset 8
    movq %rsp, %rdi
    leaq 56(%rsp), %rsi
    subq $8, %rsp
    .cfi_adjust_cfa_offset 8
    call gcrt__enter_blocking
    addq $8, %rsp
    .cfi_adjust_cfa_offset -8
    popq %r15
    .cfi_adjust_cfa_offset -8
    popq %r14
    .cfi_adjust_cfa_offset -8
    popq %r13
    .cfi_adjust_cfa_offset -8
    popq %r12
    .cfi_adjust_cfa_offset -8
    popq %rbx
    .cfi_adjust_cfa_offset -8
    popq %rbp
    .cfi_adjust_cfa_offset -8
    ret
    .cfi_endproc
    .size gcrt_enter_blocking, . - gcrt_enter_blocking
#endif
    .section .note.GNU-stack, "", @progbits
