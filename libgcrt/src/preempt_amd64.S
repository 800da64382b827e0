/* preempt_amd64.S - the asynchronous preemption stub (Go: asyncPreempt in
 * preempt_amd64.s). See preempt.c.
 *
 * The stop signal's handler makes the interrupted goroutine "call" this
 * stub: it stores the interrupted PC 8 bytes below the 128-byte red zone
 * (sp - 136) and resumes at the stub with rsp = sp - 136. So on entry
 *   (%rsp)        the interrupted PC (a return address)
 *   8..135(%rsp)  the interrupted code's red zone, left alone
 *   136(%rsp)     the interrupted sp
 * The stub saves the flags, the 15 other general registers and the whole
 * extended state (XSAVE with every component the OS enabled, so AVX and
 * AVX-512 registers too, or FXSAVE: x87, MXCSR, xmm0-15, where XSAVE is
 * missing), all on the goroutine's own stack, calls gcrt__async_preempt
 * (a yield: the goroutine goes to the global run queue and resumes later,
 * possibly on another thread), restores everything and returns with
 * "ret $128", which pops the PC and the red zone: rsp is the interrupted
 * sp again. Since the saved registers lie on the goroutine's stack, below
 * the interrupted sp and above the sched_sp of the switch inside
 * gcrt__async_preempt, the conservative scan of [sched_sp, stack_hi) sees
 * every pointer the interrupted code held in a register.
 *
 * Frame (lowest address first):
 *   [64-byte aligned extended-state area, gcrt__preempt_xsave_bytes]
 *   ... alignment padding ...
 *   rbp PC (the frame record)
 *   r15 r14 r13 r12 r11 r10 r9 r8 rdi rsi rbp rbx rdx rcx rax flags PC
 * and below the block a frame record (the interrupted rbp, then a copy of
 * the PC) that rbp points at, for frame-pointer walks. */
#if defined(__x86_64__)
    .text

    .globl gcrt__async_preempt_stub
    .hidden gcrt__async_preempt_stub
    .type gcrt__async_preempt_stub, @function
    .p2align 4
gcrt__async_preempt_stub:
    .cfi_startproc
    .cfi_signal_frame
    /* The CFA is the interrupted sp: 136 above the PC slot. */
    .cfi_def_cfa_offset 136
    .cfi_offset rip, -136
    pushfq
    .cfi_adjust_cfa_offset 8
    cld /* the C ABI wants DF clear; the saved flags keep the old one */
    pushq %rax
    .cfi_adjust_cfa_offset 8
    pushq %rcx
    .cfi_adjust_cfa_offset 8
    pushq %rdx
    .cfi_adjust_cfa_offset 8
    pushq %rbx
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset rbx, 0
    pushq %rbp
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset rbp, 0
    pushq %rsi
    .cfi_adjust_cfa_offset 8
    pushq %rdi
    .cfi_adjust_cfa_offset 8
    pushq %r8
    .cfi_adjust_cfa_offset 8
    pushq %r9
    .cfi_adjust_cfa_offset 8
    pushq %r10
    .cfi_adjust_cfa_offset 8
    pushq %r11
    .cfi_adjust_cfa_offset 8
    pushq %r12
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r12, 0
    pushq %r13
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r13, 0
    pushq %r14
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r14, 0
    pushq %r15
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r15, 0
    /* rbx (callee-saved) keeps the address of the register block. */
    movq %rsp, %rbx
    .cfi_def_cfa_register rbx
    /* A frame record (saved rbp, then the PC) so frame-pointer walks of a
     * preempted goroutine (gstate.c) go on into the interrupted code. */
    pushq 128(%rsp)
    pushq %rbp
    movq %rsp, %rbp
    movq gcrt__preempt_xsave_bytes(%rip), %rax
    subq %rax, %rsp
    andq $-64, %rsp
    cmpl $0, gcrt__preempt_use_xsave(%rip)
    je 1f
    /* XRSTOR faults unless the 64-byte header's reserved part is zero;
     * XSAVE writes only its first word. */
    xorl %eax, %eax
    movq %rax, 512(%rsp)
    movq %rax, 520(%rsp)
    movq %rax, 528(%rsp)
    movq %rax, 536(%rsp)
    movq %rax, 544(%rsp)
    movq %rax, 552(%rsp)
    movq %rax, 560(%rsp)
    movq %rax, 568(%rsp)
    movl $-1, %eax
    movl $-1, %edx
    xsave64 (%rsp)
    jmp 2f
1:  fxsave64 (%rsp)
2:  /* C code runs with the default floating-point environment and an
     * empty x87 stack; the interrupted code's own comes back below. */
    fninit
    ldmxcsr gcrt__preempt_mxcsr(%rip)
    call gcrt__async_preempt
    cmpl $0, gcrt__preempt_use_xsave(%rip)
    je 3f
    movl $-1, %eax
    movl $-1, %edx
    xrstor64 (%rsp)
    jmp 4f
3:  fxrstor64 (%rsp)
4:  movq %rbx, %rsp
    .cfi_def_cfa_register rsp
    popq %r15
    .cfi_adjust_cfa_offset -8
    popq %r14
    .cfi_adjust_cfa_offset -8
    popq %r13
    .cfi_adjust_cfa_offset -8
    popq %r12
    .cfi_adjust_cfa_offset -8
    popq %r11
    .cfi_adjust_cfa_offset -8
    popq %r10
    .cfi_adjust_cfa_offset -8
    popq %r9
    .cfi_adjust_cfa_offset -8
    popq %r8
    .cfi_adjust_cfa_offset -8
    popq %rdi
    .cfi_adjust_cfa_offset -8
    popq %rsi
    .cfi_adjust_cfa_offset -8
    popq %rbp
    .cfi_adjust_cfa_offset -8
    popq %rbx
    .cfi_adjust_cfa_offset -8
    popq %rdx
    .cfi_adjust_cfa_offset -8
    popq %rcx
    .cfi_adjust_cfa_offset -8
    popq %rax
    .cfi_adjust_cfa_offset -8
    popfq
    .cfi_adjust_cfa_offset -8
    ret $128
    .cfi_endproc
    .size gcrt__async_preempt_stub, . - gcrt__async_preempt_stub
#endif
    .section .note.GNU-stack, "", @progbits
