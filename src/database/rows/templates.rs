//! Shared row mappers of the templates domain's queries.
