//! Building squashfs images from directory trees, the way `snap pack`
//! would (xz, all files owned by root), reproducibly (every time stamp is
//! 0). The writer itself is `snapcell pack`'s, in
//! `snapcell_standalone::squashfs`.

use std::io;
use std::path::Path;

/// Pack the directory `src` into the squashfs image `image` (created or
/// truncated); see [`snapcell_standalone::squashfs::write_squashfs`].
pub fn build_squashfs(src: &Path, image: &Path) -> io::Result<()> {
    snapcell_standalone::squashfs::write_squashfs(src, image, &|_| {})
}
