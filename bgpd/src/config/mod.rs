//! Placeholder: filled in by the speaker core work.
