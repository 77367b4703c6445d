/// The event catalogue's source text: one event per line,
/// `<id> <name> <fields…>`, in a small field language (see docs/decode.md):
///
/// - `name`        one 32-bit word, decimal
/// - `name:x`      one word, hex
/// - `name:i`      one word, signed decimal
/// - `name:u64`, `name:x64`  two words (low first), decimal / hex
/// - `{a:16,b:16}` bit fields of one word, lowest bits first; `a:16i` signed,
///   `a:16x` hex, `_:n` padding
/// - `_`           a word of padding (not shown)
/// - `*name`       all remaining words (name1, name2, …), hex
///
/// `#` lines are comments and are copied into the generated formats file.
/// Facts come from Xen's public trace.h and the sources that emit each event
/// (Xen 4.17 is the baseline; later changes are noted). Names are an API:
/// never rename one, add a new id instead.
enum CatalogueData {
    static let text = """
# ---- GEN (0x0001f000): trace infrastructure, xen/common/trace.c + tools/xentrace/xentrace.c
0x0001f001 gen:lost_records lost {dom:16,vcpu:16} first_tsc:u64
0x0001f002 gen:wrap_buffer
0x0001f003 gen:cpu_change cpu window_bytes
# Old IRQ timing record: only known to xentrace_format (not in trace.h, never emitted by 4.x).
0x0001f004 gen:trace_irq vector tsc_in:x tsc_out:x
# ---- SCHED_MIN (0x00021000): runstate changes, xen/common/sched/core.c; id = 0x21001 | old<<8 | new<<4
0x00021011 sched:runstate_running_to_runnable {vcpu:16,dom:16}
0x00021021 sched:runstate_running_to_blocked {vcpu:16,dom:16}
0x00021031 sched:runstate_running_to_offline {vcpu:16,dom:16}
0x00021101 sched:runstate_runnable_to_running {vcpu:16,dom:16}
0x00021121 sched:runstate_runnable_to_blocked {vcpu:16,dom:16}
0x00021131 sched:runstate_runnable_to_offline {vcpu:16,dom:16}
0x00021201 sched:runstate_blocked_to_running {vcpu:16,dom:16}
0x00021211 sched:runstate_blocked_to_runnable {vcpu:16,dom:16}
0x00021231 sched:runstate_blocked_to_offline {vcpu:16,dom:16}
0x00021301 sched:runstate_offline_to_running {vcpu:16,dom:16}
0x00021311 sched:runstate_offline_to_runnable {vcpu:16,dom:16}
0x00021321 sched:runstate_offline_to_blocked {vcpu:16,dom:16}
0x00021002 sched:continue_running {vcpu:16,dom:16}
# ---- SCHED_VERBOSE (0x00028000): xen/common/sched/core.c (units are vCPUs unless core scheduling is on)
0x00028001 sched:dom_add dom
0x00028002 sched:dom_rem dom
0x00028003 sched:sleep dom vcpu
0x00028004 sched:wake dom vcpu
0x00028005 sched:yield dom vcpu
0x00028006 sched:block dom vcpu
0x00028007 sched:shutdown dom vcpu reason
0x00028008 sched:ctl
0x00028009 sched:adjdom dom
0x0002800a sched:switch prev_dom prev_unit next_dom next_unit
0x0002800b sched:s_timer_fn
0x0002800c sched:t_timer_fn
0x0002800d sched:dom_timer_fn
0x0002800e sched:switch_infprev prev_dom prev_unit runtime_ns
0x0002800f sched:switch_infnext next_dom next_unit waited_ns slice_ns:i
0x00028010 sched:shutdown_code dom vcpu reason
0x00028011 sched:switch_infcont dom unit runtime_ns slice_ns:i
# ---- SCHED_CLASS credit (scheduler id 0, 0x00022000): xen/common/sched/credit.c
0x00022001 credit:sched_tasklet
0x00022002 credit:account_start dom unit active_units
0x00022003 credit:account_stop dom unit active_units
0x00022004 credit:stolen_unit peer_cpu dom unit
0x00022005 credit:picked_cpu dom unit cpu
0x00022006 credit:tickle cpu
0x00022007 credit:boost_start dom unit
0x00022008 credit:boost_end dom unit
0x00022009 credit:schedule {cpu:16,tasklet:8,idle:8}
0x0002200a credit:ratelimit {unit:16,dom:16} runtime_ns
0x0002200b credit:steal_check peer_cpu checked
# ---- SCHED_CLASS credit2 (id 1, 0x00022200): numbering from xen/common/sched/credit2.c.
# Xen 4.18's formats file is off by one from 0x00022212 on; these are the ids Xen really uses.
# 0x00022201 (tick) and 0x00022204 (credit_add) are defined but never emitted.
0x00022201 credit2:tick
0x00022202 credit2:runq_pos {unit:16,dom:16} pos
0x00022203 credit2:credit_burn {unit:16,dom:16} credit:i budget:i delta:i
0x00022204 credit2:credit_add
0x00022205 credit2:tickle_check {unit:16,dom:16} credit:i score:i
0x00022206 credit2:tickle {cpu:16,_:16}
0x00022207 credit2:credit_reset {unit:16,dom:16} credit_start:i credit_end:i
0x00022208 credit2:sched_tasklet
0x00022209 credit2:update_load
0x0002220a credit2:runq_assign {unit:16,dom:16} {rq_id:16,_:16}
0x0002220b credit2:update_unit_load avgload:u64 {unit:16,dom:16} shift
0x0002220c credit2:update_runq_load rq_avgload:u64 b_avgload:u64 {rq_load:16,rq_id:8,shift:8} _
0x0002220d credit2:tickle_new {unit:16,dom:16} cpu credit:i
0x0002220e credit2:runq_max_weight {rq_id:16,max_weight:16}
0x0002220f credit2:migrate {unit:16,dom:16} {rq_id:16,to_rq_id:16}
0x00022210 credit2:load_check {lrq_id:16,orq_id:16} load_delta
0x00022211 credit2:load_balance lb_avgload:u64 ob_avgload:u64 {lrq_id:16,orq_id:16} _
0x00022213 credit2:picked_cpu b_avgload:u64 {unit:16,dom:16} {rq_id:16,new_cpu:16}
0x00022214 credit2:runq_candidate {unit:16,dom:16} tickled_cpu:i credit:i
0x00022215 credit2:schedule {cpu:16,rq_id:16} {tasklet:8,idle:8,smt_idle:8,tickled:8}
0x00022216 credit2:ratelimit {unit:16,dom:16} runtime_ns
0x00022217 credit2:runq_cand_check {unit:16,dom:16}
# ---- SCHED_CLASS arinc653 (id 3, 0x00022600): xen/common/sched/arinc653.c defines no trace events.
# ---- SCHED_CLASS rtds (id 4, 0x00022800): xen/common/sched/rt.c
0x00022801 rtds:tickle {cpu:16,_:16}
0x00022802 rtds:runq_pick {unit:16,dom:16} deadline_ns:u64 budget_ns:u64
0x00022803 rtds:budget_burn {unit:16,dom:16} budget_ns:u64 delta:i priority_level {has_extratime:8,_:24}
0x00022804 rtds:budget_replenish {unit:16,dom:16} priority_level deadline_ns:u64 budget_ns:u64
0x00022805 rtds:sched_tasklet
0x00022806 rtds:schedule {cpu:16,tasklet:8,tickled:4,idle:4}
# ---- SCHED_CLASS null (id 5, 0x00022a00): xen/common/sched/null.c
0x00022a01 null:picked_cpu {unit:16,dom:16} new_cpu
0x00022a02 null:unit_assign {unit:16,dom:16} cpu
0x00022a03 null:unit_deassign {unit:16,dom:16} cpu
0x00022a04 null:migrate {unit:16,dom:16} {cpu:16,new_cpu:16}
0x00022a05 null:schedule {tasklet:16,cpu:16} {unit:16i,dom:16i}
0x00022a06 null:tasklet
# ---- DOM0OP (0x0004f000): defined in trace.h, not emitted by 4.17
0x00041001 dom0:dom_add dom
0x00041002 dom0:dom_rem dom
# ---- HVM ENTRYEXIT (0x00081000): with TSC. Xen <= 4.18 writes 0x00081002/0x00081102 for VMX and SVM
# exits alike; from 4.19 SVM uses 0x00081003/0x00081103. +0x400: exit from/entry to a nested guest (SVM).
0x00081001 hvm:vmentry
0x00081401 hvm:vmentry_nested
0x00081002 hvm:vmexit reason rip:x
0x00081102 hvm:vmexit64 reason rip:x64
0x00081402 hvm:vmexit_nested reason rip:x
0x00081502 hvm:vmexit64_nested reason rip:x64
0x00081003 hvm:svm_exit reason rip:x
0x00081103 hvm:svm_exit64 reason rip:x64
0x00081403 hvm:svm_exit_nested reason rip:x
0x00081503 hvm:svm_exit64_nested reason rip:x64
# ---- HVM HANDLER (0x00082000): no TSC; they describe the exit being handled (+0x100: 64-bit values)
0x00082001 hvm:pf_xen error_code:x va:x
0x00082101 hvm:pf_xen64 error_code:x va:x64
0x00082002 hvm:pf_inject error_code:x cr2:x
0x00082102 hvm:pf_inject64 error_code:x cr2:x64
0x00082003 hvm:inj_exc vector error_code:x
0x00082004 hvm:inj_virq vector fake
0x00082005 hvm:reinj_virq vector
0x00082006 hvm:io_read *word
0x00082007 hvm:io_write *word
0x00082008 hvm:cr_read cr value:x
0x00082108 hvm:cr_read64 cr value:x64
0x00082009 hvm:cr_write cr value:x
0x00082109 hvm:cr_write64 cr value:x64
0x0008200a hvm:dr_read
0x0008200b hvm:dr_write
0x0008200c hvm:msr_read msr:x value:x64
0x0008200d hvm:msr_write msr:x value:x64
# CPUID: 6 words (leaf, subleaf, eax..edx) since Xen 4.13; 4.12 and older wrote 5 (no subleaf).
0x0008200e hvm:cpuid leaf:x subleaf:x eax:x ebx:x ecx:x edx:x
0x0008200f hvm:intr vector
0x00082010 hvm:nmi
0x00082011 hvm:smi
0x00082012 hvm:vmmcall eax:x
0x00082013 hvm:hlt pending
0x00082014 hvm:invlpg invlpga va:x
0x00082114 hvm:invlpg64 invlpga va:x64
0x00082015 hvm:mce
0x00082016 hvm:ioport_read port:x data:x
0x00082216 hvm:ioport_write port:x data:x
0x00082017 hvm:iomem_read addr:x data:x
0x00082117 hvm:iomem_read64 addr:x64 data:x64
0x00082217 hvm:iomem_write addr:x data:x
0x00082317 hvm:iomem_write64 addr:x64 data:x64
0x00082018 hvm:clts
0x00082019 hvm:lmsw value:x
0x00082119 hvm:lmsw64 value:x64
0x0008201a hvm:rdtsc value:x64
0x00082020 hvm:intr_window vector source intr:i
0x00082021 hvm:npf gpa:x64 mfn:x64 qualification:x p2mt
0x00082022 hvm:realmode_emulate
0x00082023 hvm:trap vector
0x00082024 hvm:trap_debug exit_qualification:x
0x00082025 hvm:vlapic
0x00082126 hvm:xcr_read64 xcr value:x64
0x00082127 hvm:xcr_write64 xcr value:x64
# ---- HVM EMUL (0x00084000): emulated timers and interrupt controllers, with TSC
0x00084001 hvm:emul_hpet_start_timer timer irq delta_ns:u64 period_ns:u64
0x00084002 hvm:emul_pit_start_timer period_ns period_repeat_ns
0x00084003 hvm:emul_rtc_start_timer delta_ns period_ns
0x00084004 hvm:emul_lapic_start_timer delta_ns:u64 period_ns:u64 irq
0x00084005 hvm:emul_hpet_stop_timer timer
0x00084006 hvm:emul_pit_stop_timer
0x00084007 hvm:emul_rtc_stop_timer
0x00084008 hvm:emul_lapic_stop_timer
0x00084009 hvm:emul_pit_timer_cb
0x0008400a hvm:emul_lapic_timer_cb
0x0008400b hvm:emul_pic_int_output int_output is_master irq:i
0x0008400c hvm:emul_pic_kick irq
0x0008400d hvm:emul_pic_intack is_master irq
0x0008400e hvm:emul_pic_posedge irq
0x0008400f hvm:emul_pic_negedge irq
0x00084010 hvm:emul_pic_pend_irq_call accept int_output
0x00084011 hvm:emul_lapic_pic_intr target accept
# ---- MEM (0x0010f000): grant table, p2m, PoD; no TSC except grant events
0x0010f001 mem:grant_map dom
0x0010f002 mem:grant_unmap dom
0x0010f003 mem:grant_transfer dom
0x0010f004 mem:set_p2m_entry gfn:x64 mfn:x64 p2mt {dom:16,order:16}
0x0010f005 mem:decrease_reservation gfn:x64 {dom:16,order:16} _
0x0010f010 mem:pod_populate gfn:x64 mfn:x64 {dom:16,order:16} _
0x0010f011 mem:pod_zero_reclaim gfn:x64 mfn:x64 {dom:16,order:16} _
0x0010f012 mem:pod_superpage_splinter gfn:x64 {dom:16,_:16} _
# ---- PV (0x0020f000): xen/arch/x86/pv/trace.c, with TSC; +0x100: 64-bit guest
0x00201001 pv:hypercall eip:x eax:x
0x00201101 pv:hypercall64 rip:x64 eax:x
0x00201003 pv:trap eip:x {trapnr:15,use_error_code:1,error_code:16x}
0x00201103 pv:trap64 rip:x64 {trapnr:15,use_error_code:1,error_code:16x}
0x00201004 pv:page_fault eip:x addr:x error_code:x
0x00201104 pv:page_fault64 rip:x64 addr:x64 error_code:x
0x00201005 pv:forced_invalid_op eip:x
0x00201105 pv:forced_invalid_op64 rip:x64
0x00201006 pv:emulate_privop eip:x
0x00201106 pv:emulate_privop64 rip:x64
0x00201007 pv:emulate_4gb eip:x
0x00201107 pv:emulate_4gb64 rip:x64
0x00201008 pv:math_state_restore
0x00201009 pv:paging_fixup eip:x addr:x
0x00201109 pv:paging_fixup64 rip:x64 addr:x64
0x0020100a pv:gdt_ldt_mapping_fault eip:x offset:x
0x0020110a pv:gdt_ldt_mapping_fault64 rip:x64 offset:x64
0x0020110b pv:ptwr_emulation64 pte:x64 addr:x64 rip:x64
0x0020100c pv:ptwr_emulation_pae pte:x64 addr:x eip:x
# HYPERCALL_V2: word 1 = op (bits 0-19) + two "argument present" bits per argument
# (bits 20-31); the present arguments follow, 32 bits each in 4.17. Never uses +0x100.
0x0020100d pv:hypercall_v2 {op:20,args_present:12x} *arg
0x0020200e pv:hypercall_subcall {op:20,args_present:12x} *arg
# ---- SHADOW (0x0040f000): xen/arch/x86/mm/shadow; no TSC.
# +0x000 2-level (32-bit) guest, +0x100 3-level (PAE), +0x200 4-level (64-bit).
0x0040f001 shadow:not_shadow_32 gl1e:x va:x flags:x
0x0040f101 shadow:not_shadow_pae gl1e:x64 va:x flags:x
0x0040f201 shadow:not_shadow_64 gl1e:x64 va:x64 flags:x
0x0040f002 shadow:fast_propagate_32 va:x
0x0040f102 shadow:fast_propagate_pae va:x
0x0040f202 shadow:fast_propagate_64 va:x64
0x0040f003 shadow:fast_mmio_32 va:x
0x0040f103 shadow:fast_mmio_pae va:x
0x0040f203 shadow:fast_mmio_64 va:x64
0x0040f004 shadow:false_fast_path_32 va:x
0x0040f104 shadow:false_fast_path_pae va:x
0x0040f204 shadow:false_fast_path_64 va:x64
0x0040f005 shadow:mmio_32 va:x
0x0040f105 shadow:mmio_pae va:x
0x0040f205 shadow:mmio_64 va:x64
0x0040f006 shadow:fixup_32 gl1e:x va:x flags:x
0x0040f106 shadow:fixup_pae gl1e:x64 va:x flags:x
0x0040f206 shadow:fixup_64 gl1e:x64 va:x64 flags:x
0x0040f007 shadow:domf_dying_32 va:x
0x0040f107 shadow:domf_dying_pae va:x
0x0040f207 shadow:domf_dying_64 va:x64
0x0040f008 shadow:emulate_32 gl1e:x write_val:x va:x {flags:29x,emulation_count:3}
0x0040f108 shadow:emulate_pae gl1e:x64 write_val:x64 va:x {flags:29x,emulation_count:3}
0x0040f208 shadow:emulate_64 gl1e:x64 write_val:x64 va:x64 {flags:29x,emulation_count:3}
0x0040f009 shadow:emulate_unshadow_user_32 gfn:x va:x
0x0040f109 shadow:emulate_unshadow_user_pae gfn:x64 va:x
0x0040f209 shadow:emulate_unshadow_user_64 gfn:x64 va:x64
0x0040f00a shadow:emulate_unshadow_evtinj_32 gfn:x va:x
0x0040f10a shadow:emulate_unshadow_evtinj_pae gfn:x64 va:x
0x0040f20a shadow:emulate_unshadow_evtinj_64 gfn:x64 va:x64
0x0040f00b shadow:emulate_unshadow_unhandled_32 gfn:x va:x
0x0040f10b shadow:emulate_unshadow_unhandled_pae gfn:x64 va:x
0x0040f20b shadow:emulate_unshadow_unhandled_64 gfn:x64 va:x64
0x0040f00c shadow:wrmap_bf gfn:x64
0x0040f00d shadow:prealloc_unpin gfn:x64
0x0040f00e shadow:resync_full gfn:x64
0x0040f00f shadow:resync_only gfn:x64
# ---- HW_PM (0x00801000): cpufreq and C-states, with TSC
0x00801001 pm:freq_change old_mhz new_mhz
0x00801002 pm:idle_entry cstate tick:x expected_us predicted_us
0x00801003 pm:idle_exit cstate tick:x irq0 irq1 irq2 irq3
# ---- HW_IRQ (0x00802000): xen/arch/x86/irq.c, with TSC; vector masks are 6 words of CPU bits
0x00802001 irq:move_cleanup_delay irq vector cpu
0x00802002 irq:move_cleanup irq vector cpu
0x00802003 irq:bind_vector {irq:16,vector:16} *cpumask
0x00802004 irq:clear_vector {irq:16,vector:16} *cpumask
0x00802005 irq:move_finish irq old_vector cpu
0x00802006 irq:assign_vector {irq:16,vector:16} *cpumask
0x00802007 irq:unmapped_vector vector
0x00802008 irq:handled irq tsc_in:x tsc_out:x
"""
}
