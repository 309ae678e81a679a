//! The standalone state: which snaps and revisions are installed and which
//! plugs are connected to which slots, written atomically under a lock and
//! readable as JSON. Filled by the standalone front end issue.
