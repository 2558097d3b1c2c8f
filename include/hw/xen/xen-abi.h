/*
 * The parts of Xen's guest ABI that minivmm's Xen emulation speaks, written from the public
 * interface description (xen/include/public): hypercall numbers and argument layouts for an
 * x86-64 HVM guest, the 2-level event channel page, grant table v1, the xenstore ring and
 * wire format, and the PV block (blkif) ring. Layouts are the 64-bit guest's; 32-bit guests
 * are not supported. Constants only: no behaviour lives here.
 */
#ifndef HW_XEN_XEN_ABI_H
#define HW_XEN_XEN_ABI_H

#include <stdint.h>

#define XEN_PAGE_SIZE 4096u
#define XEN_DOMID_SELF 0x7ff0u

/* ---- hypercalls (rax = number, rdi rsi rdx r10 r8 r9 = arguments, rax = result) ---- */
enum {
    XEN_HC_memory_op = 12,
    XEN_HC_xen_version = 17,
    XEN_HC_grant_table_op = 20,
    XEN_HC_vcpu_op = 24,
    XEN_HC_sched_op = 29,
    XEN_HC_event_channel_op = 32,
    XEN_HC_hvm_op = 34,
};

/* xen_version */
enum {
    XENVER_version = 0,
    XENVER_extraversion = 1, /* char[16] */
    XENVER_get_features = 6, /* { u32 submap_idx; u32 submap } */
    XENVER_pagesize = 7,
};
enum {
    XENFEAT_writable_page_tables = 0,
    XENFEAT_writable_descriptor_tables = 1,
    XENFEAT_auto_translated_physmap = 2,
    XENFEAT_supervisor_mode_kernel = 3,
    XENFEAT_hvm_callback_vector = 8,
};

/* memory_op: XENMEM_add_to_physmap { u16 domid; u16 size; u32 space; u64 idx; u64 gpfn } */
enum { XENMEM_add_to_physmap = 7 };
enum { XENMAPSPACE_shared_info = 0, XENMAPSPACE_grant_table = 1 };

/* hvm_op: HVMOP_set/get_param { u16 domid; u32 index @4; u64 value @8 } */
enum { HVMOP_set_param = 0, HVMOP_get_param = 1 };
enum {
    HVM_PARAM_CALLBACK_IRQ = 0, /* bits 63:56 type (0 GSI, 1 PCI INTx, 2 vector), low: value */
    HVM_PARAM_STORE_PFN = 1,
    HVM_PARAM_STORE_EVTCHN = 2,
    HVM_PARAM_CONSOLE_PFN = 17,
    HVM_PARAM_CONSOLE_EVTCHN = 18,
};
enum { HVM_CALLBACK_GSI = 0, HVM_CALLBACK_PCI_INTX = 1, HVM_CALLBACK_VECTOR = 2 };

/* sched_op */
enum { SCHEDOP_yield = 0, SCHEDOP_block = 1, SCHEDOP_shutdown = 2, SCHEDOP_poll = 3 };
enum { SHUTDOWN_poweroff = 0, SHUTDOWN_reboot = 1, SHUTDOWN_crash = 3 };

/* vcpu_op: VCPUOP_register_vcpu_info { u64 mfn; u32 offset; u32 rsvd } */
enum { VCPUOP_register_vcpu_info = 10 };

/* ---- event channels, 2-level ABI ---- */
enum {
    EVTCHNOP_bind_interdomain = 0, /* { u16 remote_dom; u32 remote_port @4; u32 local_port @8 } */
    EVTCHNOP_close = 3,            /* { u32 port } */
    EVTCHNOP_send = 4,             /* { u32 port } */
    EVTCHNOP_status = 5,           /* { u16 dom; u32 port @4; u32 status @8; u32 vcpu @12;
                                        union @16: unbound { u16 dom },
                                        interdomain { u16 dom; u32 port @20 } } (24 bytes) */
    EVTCHNOP_alloc_unbound = 6,    /* { u16 dom; u16 remote_dom; u32 port @4 } */
    EVTCHNOP_unmask = 9,           /* { u32 port } */
};
enum {
    EVTCHNSTAT_closed = 0,
    EVTCHNSTAT_unbound = 1,
    EVTCHNSTAT_interdomain = 2,
};
#define XEN_EVTCHN_2L_NR_PORTS 4096u /* 64 words of 64 bits */

/* shared_info page (x86-64): vcpu_info[32] of 64 bytes each, then the pending and mask
 * bitmaps. vcpu_info: u8 evtchn_upcall_pending @0; u8 evtchn_upcall_mask @1;
 * u64 evtchn_pending_sel @8. */
#define XEN_LEGACY_MAX_VCPUS 32u
#define XEN_VCPU_INFO_SIZE 64u
#define XEN_VCPU_INFO_UPCALL_PENDING 0
#define XEN_VCPU_INFO_UPCALL_MASK 1
#define XEN_VCPU_INFO_PENDING_SEL 8
#define XEN_SHINFO_EVTCHN_PENDING 2048 /* u64[64] */
#define XEN_SHINFO_EVTCHN_MASK 2560    /* u64[64] */

/* ---- grant table v1: 8-byte entries { u16 flags; u16 domid; u32 frame } ---- */
enum {
    GNTTABOP_setup_table = 2,  /* { u16 dom; u32 nr_frames @4; i16 status @8; u64 list @16 } */
    GNTTABOP_query_size = 6,   /* { u16 dom; u32 nr_frames @4; u32 max_nr_frames @8;
                                    i16 status @12 } */
    GNTTABOP_set_version = 8,  /* { u32 version } */
    GNTTABOP_get_version = 10, /* { u16 dom; u16 pad; u32 version @4 } */
};
enum {
    GTF_invalid = 0,
    GTF_permit_access = 1,
    GTF_type_mask = 3,
    GTF_readonly = 1 << 2,
    GTF_reading = 1 << 3, /* set by the backend while it maps the page */
    GTF_writing = 1 << 4, /* set by the backend while it maps the page writable */
};
enum {
    GNTST_okay = 0,
    GNTST_general_error = -1,
    GNTST_bad_domain = -2,
    GNTST_bad_gntref = -3,
    GNTST_permission_denied = -8,
};
#define XEN_GNTTAB_ENTRIES_PER_FRAME (XEN_PAGE_SIZE / 8)

/* ---- xenstore: the ring page and the message header ---- */
#define XENSTORE_RING_SIZE 1024u
#define XENSTORE_RING_REQ 0
#define XENSTORE_RING_RSP 1024
#define XENSTORE_RING_REQ_CONS 2048 /* u32 each, free-running indexes */
#define XENSTORE_RING_REQ_PROD 2052
#define XENSTORE_RING_RSP_CONS 2056
#define XENSTORE_RING_RSP_PROD 2060
#define XENSTORE_RING_SERVER_FEATURES 2064
#define XENSTORE_RING_CONNECTION 2068
#define XENSTORE_RING_ERROR 2072
#define XENSTORE_PAYLOAD_MAX 4096u
#define XENSTORE_ABS_PATH_MAX 3072u

/* struct xsd_sockmsg { u32 type; u32 req_id; u32 tx_id; u32 len; } then len bytes */
enum {
    XS_CONTROL = 0,
    XS_DIRECTORY = 1,
    XS_READ = 2,
    XS_GET_PERMS = 3,
    XS_WATCH = 4,
    XS_UNWATCH = 5,
    XS_TRANSACTION_START = 6,
    XS_TRANSACTION_END = 7,
    XS_INTRODUCE = 8,
    XS_RELEASE = 9,
    XS_GET_DOMAIN_PATH = 10,
    XS_WRITE = 11,
    XS_MKDIR = 12,
    XS_RM = 13,
    XS_SET_PERMS = 14,
    XS_WATCH_EVENT = 15,
    XS_ERROR = 16,
    XS_IS_DOMAIN_INTRODUCED = 17,
    XS_RESUME = 18,
    XS_SET_TARGET = 19,
    XS_RESET_WATCHES = 21,
    XS_DIRECTORY_PART = 22,
};

/* ---- xenbus device states (the "state" node of each end) ---- */
enum {
    XenbusStateUnknown = 0,
    XenbusStateInitialising = 1,
    XenbusStateInitWait = 2,
    XenbusStateInitialised = 3,
    XenbusStateConnected = 4,
    XenbusStateClosing = 5,
    XenbusStateClosed = 6,
};

/* ---- PV block: one-page shared ring of 32 slots after a 64-byte header ---- */
#define BLKIF_RING_HDR_SIZE 64 /* u32 req_prod, req_event, rsp_prod, rsp_event; pad */
#define BLKIF_RING_REQ_PROD 0
#define BLKIF_RING_REQ_EVENT 4
#define BLKIF_RING_RSP_PROD 8
#define BLKIF_RING_RSP_EVENT 12
#define BLKIF_RING_SLOT_SIZE 112
#define BLKIF_RING_SLOTS 32u
#define BLKIF_MAX_SEGMENTS_PER_REQUEST 11u
#define BLKIF_SECTOR_SIZE 512u

/* request: u8 operation; u8 nr_segments; u16 handle; u32 pad; u64 id @8;
 *          u64 sector_number @16; segments @24, 8 bytes each:
 *          { u32 gref; u8 first_sect; u8 last_sect; u16 pad }
 * discard: u8 operation; u8 flag; u16 handle; u32 pad; u64 id @8; u64 sector_number @16;
 *          u64 nr_sectors @24
 * response: u64 id; u8 operation @8; i16 status @10 (16 bytes) */
enum {
    BLKIF_OP_READ = 0,
    BLKIF_OP_WRITE = 1,
    BLKIF_OP_WRITE_BARRIER = 2,
    BLKIF_OP_FLUSH_DISKCACHE = 3,
    BLKIF_OP_DISCARD = 5,
    BLKIF_OP_INDIRECT = 6,
};
enum { BLKIF_RSP_EOPNOTSUPP = -2, BLKIF_RSP_ERROR = -1, BLKIF_RSP_OKAY = 0 };

#endif
