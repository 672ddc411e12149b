//! Shared row mappers of the identity domain's queries.
