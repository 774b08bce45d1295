//! The public conformance suite for [`Repository`](crate::Repository) backends.
