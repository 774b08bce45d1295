//! Journey maps: how contacts got through a journey — which touchpoints on which
//! channels, with what outcome and feeling — where switching channel, device or
//! department loses them, and whose referrals convert.
//!
//! Build an [`InteractionLog`] once from a journey's transitions and the contacts'
//! touchpoints; it interns every key and lays each contact's history out
//! contiguously. Each report is then one sequential pass over it:
//!
//! - [`JourneyMap`]: per stage, contacts who passed through, their touchpoints there
//!   by channel and interaction type, mean sentiment, top outcomes, and conversion to
//!   the next stage by the last channel touched;
//! - [`InteractionLog::timeline`]: one contact's touchpoints with the stage at each;
//! - [`GapReport`]: switches between consecutive touchpoints and what followed them,
//!   against touchpoints that stayed on the same channel (device, department);
//! - [`AmbassadorReport`]: per-advocate funnels of referred contacts, referred vs
//!   not referred conversion, and ranked ambassador candidates.
//!
//! Every report takes the dashboard analytics' [`Scope`](crate::analytics::Scope): an
//! as-of instant and a segment, a [`ContactSet`](crate::analytics::ContactSet) over
//! the log's [`contacts`](InteractionLog::contacts) — such as the members of a named
//! [`Segment`](crate::segment::Segment). A breakdown by segment is
//! [`analytics::breakdown`](crate::analytics::breakdown) running a report per segment.
//!
//! **Time.** A touchpoint counts in the stage the contact was in when it happened; a
//! move at the same instant counts as after it (the touchpoint may have caused it).
//! Touchpoints before the contact entered the journey are counted apart.

mod ambassadors;
mod gaps;
mod log;
mod map;
mod timeline;

pub use ambassadors::{
    AdvocateFunnel, AmbassadorCandidate, AmbassadorOptions, AmbassadorReport, GroupConversion,
};
pub use gaps::{DimensionGaps, FollowUp, GapDimension, GapOptions, GapReport, StageGaps, SwitchRow};
pub use log::{InteractionLog, InteractionLogBuilder};
pub use map::{ChannelConversion, JourneyMap, MapOptions, Share, StageMap};
pub use timeline::TimelineRow;
