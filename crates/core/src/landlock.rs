//! Landlock policy, pure: which paths get which access rights, and which
//! TCP ports and scopes, for a snap's app (from snapd's AppArmor profile or
//! from snapcell's own default and interface grants). `snapcell_sys::landlock`
//! enforces it. Filled by the confinement issue.
