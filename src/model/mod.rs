//! The domain model: journeys, stages, contacts, transitions and their ids.

pub mod contact;
pub mod ids;
pub mod journey;
pub mod referral;
pub mod touchpoint;
pub mod transition;
pub mod value;
