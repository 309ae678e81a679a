//! The `bpf()` system calls the v2 device cgroup needs: a hash map pinned
//! in the BPF file system, a `BPF_PROG_TYPE_CGROUP_DEVICE` program, its
//! attachment to a cgroup. Each call is one small function over one
//! `union bpf_attr` layout (linux/bpf.h).

use std::ffi::CStr;
use std::mem::size_of;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use rustix::io::Errno;
use snapcell_core::devices::program::Insn;
use snapcell_core::devices::{MAP_KEY_SIZE, MAP_VALUE_SIZE};

const BPF_MAP_CREATE: u32 = 0;
const BPF_MAP_UPDATE_ELEM: u32 = 2;
const BPF_MAP_DELETE_ELEM: u32 = 3;
const BPF_MAP_GET_NEXT_KEY: u32 = 4;
const BPF_PROG_LOAD: u32 = 5;
const BPF_OBJ_PIN: u32 = 6;
const BPF_OBJ_GET: u32 = 7;
const BPF_PROG_ATTACH: u32 = 8;
const BPF_OBJ_GET_INFO_BY_FD: u32 = 15;

const BPF_MAP_TYPE_HASH: u32 = 1;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
/// `BPF_CGROUP_DEVICE`, the attach type of device programs.
const BPF_CGROUP_DEVICE: u32 = 6;
/// `BPF_ANY` for map updates: create or replace.
const BPF_ANY: u64 = 0;
/// `BPF_OBJ_NAME_LEN`.
const OBJ_NAME_LEN: usize = 16;
/// The magic number of the BPF file system (`statfs`).
pub const BPF_FS_MAGIC: i64 = 0xcafe_4a11;

/// Issue `bpf(cmd, attr, sizeof attr)`; the result is a descriptor or 0.
///
/// # Safety
///
/// Every pointer `attr` holds (as a `u64`) must be valid for what `cmd`
/// does with it: readable for the sizes the kernel reads (a map's key and
/// value sizes, `insn_cnt` instructions, NUL-terminated strings), writable
/// for what it writes (a log buffer of `log_size` bytes, a next key of the
/// map's key size, an info struct of `info_len` bytes).
unsafe fn sys_bpf<T>(cmd: u32, attr: &mut T) -> Result<i64, Errno> {
    // SAFETY: `attr` is a live `repr(C)` value of `size_of::<T>()` bytes, the
    // size passed, so the kernel reads and writes only inside it; the
    // pointers in it are valid as the caller promised.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd as libc::c_int,
            attr as *mut T,
            size_of::<T>() as libc::c_uint,
        )
    };
    if ret < 0 {
        Err(Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::IO))
    } else {
        Ok(ret)
    }
}

/// A descriptor returned by `bpf()`.
fn owned(ret: i64) -> OwnedFd {
    // SAFETY: a successful `bpf()` that creates or opens an object returns
    // a new descriptor that nothing else owns.
    unsafe { OwnedFd::from_raw_fd(ret as libc::c_int) }
}

fn obj_name(name: &str) -> [u8; OBJ_NAME_LEN] {
    let mut out = [0u8; OBJ_NAME_LEN];
    let n = name.len().min(OBJ_NAME_LEN - 1);
    out[..n].copy_from_slice(&name.as_bytes()[..n]);
    out
}

#[repr(C)]
#[derive(Default)]
struct MapCreateAttr {
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
    inner_map_fd: u32,
    numa_node: u32,
    map_name: [u8; OBJ_NAME_LEN],
}

#[repr(C)]
struct MapElemAttr {
    map_fd: u32,
    _pad: u32,
    key: u64,
    value_or_next_key: u64,
    flags: u64,
}

#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; OBJ_NAME_LEN],
}

#[repr(C)]
#[derive(Default)]
struct ObjAttr {
    pathname: u64,
    bpf_fd: u32,
    file_flags: u32,
}

#[repr(C)]
#[derive(Default)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

#[repr(C)]
#[derive(Default)]
struct InfoAttr {
    bpf_fd: u32,
    info_len: u32,
    info: u64,
}

/// The start of `struct bpf_map_info`.
#[repr(C)]
#[derive(Default, Debug)]
struct MapInfo {
    map_type: u32,
    id: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
    name: [u8; OBJ_NAME_LEN],
}

/// The v2 device map: a hash map from the 9-byte device key to a `u8`.
/// Holding one means its key and value sizes were checked, so updates and
/// lookups pass the kernel buffers of the right size.
#[derive(Debug)]
pub struct DeviceMap {
    fd: OwnedFd,
    max_entries: u32,
}

impl DeviceMap {
    /// `BPF_MAP_CREATE` a hash map named `name` for `max_entries` devices.
    pub fn create(name: &str, max_entries: u32) -> Result<DeviceMap, Errno> {
        let mut attr = MapCreateAttr {
            map_type: BPF_MAP_TYPE_HASH,
            key_size: MAP_KEY_SIZE as u32,
            value_size: MAP_VALUE_SIZE as u32,
            max_entries,
            map_name: obj_name(name),
            ..Default::default()
        };
        // SAFETY: the attribute holds no pointers.
        let fd = owned(unsafe { sys_bpf(BPF_MAP_CREATE, &mut attr) }?);
        Ok(DeviceMap { fd, max_entries })
    }

    /// `BPF_OBJ_GET` the map pinned at `path`, checked to be a device map
    /// (`EINVAL` otherwise: another kind of object, other sizes).
    pub fn open_pinned(path: &CStr) -> Result<DeviceMap, Errno> {
        let fd = obj_get(path)?;
        let mut info = MapInfo::default();
        let mut attr = InfoAttr {
            bpf_fd: fd.as_raw_fd() as u32,
            info_len: size_of::<MapInfo>() as u32,
            info: &mut info as *mut MapInfo as u64,
        };
        // SAFETY: `info` is writable for `info_len` bytes.
        unsafe { sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &mut attr) }?;
        if info.map_type != BPF_MAP_TYPE_HASH
            || info.key_size != MAP_KEY_SIZE as u32
            || info.value_size != MAP_VALUE_SIZE as u32
        {
            return Err(Errno::INVAL);
        }
        Ok(DeviceMap {
            fd,
            max_entries: info.max_entries,
        })
    }

    /// How many entries the map can hold.
    pub fn max_entries(&self) -> u32 {
        self.max_entries
    }

    /// `BPF_OBJ_PIN` the map at `path` (`EEXIST` if something is there).
    pub fn pin(&self, path: &CStr) -> Result<(), Errno> {
        let mut attr = ObjAttr {
            pathname: path.as_ptr() as u64,
            bpf_fd: self.fd.as_raw_fd() as u32,
            file_flags: 0,
        };
        // SAFETY: `pathname` is a NUL-terminated string that outlives the call.
        unsafe { sys_bpf(BPF_OBJ_PIN, &mut attr) }.map(drop)
    }

    /// Set `key` to 1.
    pub fn insert(&self, key: &[u8; MAP_KEY_SIZE]) -> Result<(), Errno> {
        let value = [1u8; MAP_VALUE_SIZE];
        let mut attr = MapElemAttr {
            map_fd: self.fd.as_raw_fd() as u32,
            _pad: 0,
            key: key.as_ptr() as u64,
            value_or_next_key: value.as_ptr() as u64,
            flags: BPF_ANY,
        };
        // SAFETY: key and value are readable for the map's sizes (checked
        // when the map was made or opened).
        unsafe { sys_bpf(BPF_MAP_UPDATE_ELEM, &mut attr) }.map(drop)
    }

    /// Delete `key` (`ENOENT` if absent).
    pub fn remove(&self, key: &[u8; MAP_KEY_SIZE]) -> Result<(), Errno> {
        let mut attr = MapElemAttr {
            map_fd: self.fd.as_raw_fd() as u32,
            _pad: 0,
            key: key.as_ptr() as u64,
            value_or_next_key: 0,
            flags: 0,
        };
        // SAFETY: the key is readable for the map's key size.
        unsafe { sys_bpf(BPF_MAP_DELETE_ELEM, &mut attr) }.map(drop)
    }

    /// Every key in the map.
    pub fn keys(&self) -> Result<Vec<[u8; MAP_KEY_SIZE]>, Errno> {
        let mut keys: Vec<[u8; MAP_KEY_SIZE]> = Vec::new();
        loop {
            if keys.len() > self.max_entries as usize {
                // A map that changes under us could make this go round.
                return Err(Errno::TOOBIG);
            }
            let mut next = [0u8; MAP_KEY_SIZE];
            let mut attr = MapElemAttr {
                map_fd: self.fd.as_raw_fd() as u32,
                _pad: 0,
                // No key: the first one.
                key: keys.last().map_or(0, |k| k.as_ptr() as u64),
                value_or_next_key: next.as_mut_ptr() as u64,
                flags: 0,
            };
            // SAFETY: the current key (if any) is readable and `next`
            // writable for the map's key size.
            match unsafe { sys_bpf(BPF_MAP_GET_NEXT_KEY, &mut attr) } {
                Ok(_) => keys.push(next),
                Err(Errno::NOENT) => return Ok(keys),
                Err(e) => return Err(e),
            }
        }
    }
}

impl AsFd for DeviceMap {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// `BPF_OBJ_GET` whatever is pinned at `path`.
pub fn obj_get(path: &CStr) -> Result<OwnedFd, Errno> {
    let mut attr = ObjAttr {
        pathname: path.as_ptr() as u64,
        ..Default::default()
    };
    // SAFETY: `pathname` is a NUL-terminated string that outlives the call.
    Ok(owned(unsafe { sys_bpf(BPF_OBJ_GET, &mut attr) }?))
}

/// Why a program did not load: the errno and the verifier's log.
#[derive(Debug)]
pub struct LoadError {
    pub errno: Errno,
    pub log: String,
}

/// `BPF_PROG_LOAD` a `BPF_PROG_TYPE_CGROUP_DEVICE` program. On failure the
/// load is repeated with the verifier's log on, for the error message.
pub fn load_device_program(
    insns: &[Insn],
    license: &CStr,
    name: &str,
) -> Result<OwnedFd, LoadError> {
    let code: Vec<[u8; 8]> = insns.iter().map(|i| i.to_bytes()).collect();
    let attempt = |log: Option<&mut Vec<u8>>| {
        let mut attr = ProgLoadAttr {
            prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
            insn_cnt: code.len() as u32,
            insns: code.as_ptr() as u64,
            license: license.as_ptr() as u64,
            prog_name: obj_name(name),
            ..Default::default()
        };
        if let Some(buf) = log {
            attr.log_level = 1;
            attr.log_size = buf.len() as u32;
            attr.log_buf = buf.as_mut_ptr() as u64;
        }
        // SAFETY: `insns` points at `insn_cnt` 8-byte instructions, the
        // license is NUL-terminated, the log buffer (if any) is writable
        // for `log_size` bytes; all outlive the call.
        unsafe { sys_bpf(BPF_PROG_LOAD, &mut attr) }.map(owned)
    };
    match attempt(None) {
        Ok(fd) => Ok(fd),
        Err(errno) => {
            let mut buf = vec![0u8; 64 * 1024];
            let _ = attempt(Some(&mut buf));
            let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
            Err(LoadError {
                errno,
                log: String::from_utf8_lossy(&buf[..end]).trim_end().to_owned(),
            })
        }
    }
}

/// `BPF_PROG_ATTACH` a device program to the cgroup open as `cgroup` with
/// flags 0, as snapd does: the cgroup's one device program (an earlier one
/// attached the same way is replaced), which the cgroups below it cannot
/// override.
pub fn attach_device_program(cgroup: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> Result<(), Errno> {
    let mut attr = ProgAttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        ..Default::default()
    };
    // SAFETY: the attribute holds no pointers.
    unsafe { sys_bpf(BPF_PROG_ATTACH, &mut attr) }.map(drop)
}
