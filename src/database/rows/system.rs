//! Shared row mappers of the system domain's queries.
