//! The GNU build ID of an ELF file (`NT_GNU_BUILD_ID` in a `PT_NOTE`
//! segment), which `version-info` prints first, as snapd prints its own.

/// The build ID of the ELF image `data`, as lower-case hex.
pub fn build_id(data: &[u8]) -> Result<String, String> {
    if data.get(0..4) != Some(b"\x7fELF") {
        return Err("not an ELF file".into());
    }
    let wide = match data.get(4) {
        Some(1) => false,
        Some(2) => true,
        _ => return Err("unknown ELF class".into()),
    };
    let little = match data.get(5) {
        Some(1) => true,
        Some(2) => false,
        _ => return Err("unknown ELF byte order".into()),
    };
    let rd = Reader { data, little };
    let (phoff, phentsize, phnum) = if wide {
        (rd.u64(0x20)?, rd.u16(0x36)?, rd.u16(0x38)?)
    } else {
        (u64::from(rd.u32(0x1c)?), rd.u16(0x2a)?, rd.u16(0x2c)?)
    };
    for i in 0..u64::from(phnum) {
        let ph = usize::try_from(phoff + i * u64::from(phentsize)).map_err(|_| "bad offset")?;
        if rd.u32(ph)? != 4 {
            continue; // not PT_NOTE
        }
        let (offset, size) = if wide {
            (rd.u64(ph + 8)?, rd.u64(ph + 32)?)
        } else {
            (u64::from(rd.u32(ph + 4)?), u64::from(rd.u32(ph + 16)?))
        };
        let start = usize::try_from(offset).map_err(|_| "bad offset")?;
        let end = start
            .checked_add(usize::try_from(size).map_err(|_| "bad size")?)
            .ok_or("bad size")?;
        let mut pos = start;
        while pos + 12 <= end {
            let namesz = rd.u32(pos)? as usize;
            let descsz = rd.u32(pos + 4)? as usize;
            let kind = rd.u32(pos + 8)?;
            let name_at = pos + 12;
            let desc_at = name_at + namesz.div_ceil(4) * 4;
            let next = desc_at + descsz.div_ceil(4) * 4;
            if next > end {
                break;
            }
            if kind == 3 && data.get(name_at..name_at + namesz) == Some(b"GNU\0") {
                let desc = data
                    .get(desc_at..desc_at + descsz)
                    .ok_or("truncated note")?;
                return Ok(desc.iter().map(|b| format!("{b:02x}")).collect());
            }
            pos = next;
        }
    }
    Err("no build-id note".into())
}

struct Reader<'a> {
    data: &'a [u8],
    little: bool,
}

impl Reader<'_> {
    fn bytes<const N: usize>(&self, at: usize) -> Result<[u8; N], String> {
        self.data
            .get(at..at.checked_add(N).ok_or("truncated ELF file")?)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| "truncated ELF file".to_string())
    }
    fn u16(&self, at: usize) -> Result<u16, String> {
        let b = self.bytes(at)?;
        Ok(if self.little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    }
    fn u32(&self, at: usize) -> Result<u32, String> {
        let b = self.bytes(at)?;
        Ok(if self.little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }
    fn u64(&self, at: usize) -> Result<u64, String> {
        let b = self.bytes(at)?;
        Ok(if self.little {
            u64::from_le_bytes(b)
        } else {
            u64::from_be_bytes(b)
        })
    }
}
