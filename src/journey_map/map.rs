//! The journey map report: per stage, who passed through, which touchpoints they had
//! there, how they felt, what came of it, and which last channel converted.

use serde::{Deserialize, Serialize};

use super::log::{InteractionLog, KeyTable, MEASURED, NONE, ratio};
use crate::analytics::Scope;
use crate::model::ids::{ChannelKey, InteractionKey, JourneyId, Name, OutcomeKey, StageKey};

/// A key's count and its share of a total.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Share<K> {
    /// The key.
    pub key: K,
    /// How many.
    pub count: u64,
    /// `count` over the total it is a part of (0 when the total is 0).
    pub share: f64,
}

/// How many stays in a stage ended by advancing to the next stage, for the stays whose
/// last touchpoint in the stage was on `last_channel`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChannelConversion {
    /// The channel of the last touchpoint during the stay; `None`: no touchpoint.
    pub last_channel: Option<ChannelKey>,
    /// Stays in the stage (ended or still open).
    pub stays: u64,
    /// Stays that ended with a move to the next stage.
    pub advanced: u64,
    /// `advanced / stays`.
    pub rate: f64,
}

/// One stage of a [`JourneyMap`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageMap {
    /// The stage.
    pub stage: StageKey,
    /// Its display name.
    pub name: Name,
    /// Distinct contacts who entered it at least once.
    pub contacts: u64,
    /// Touchpoints the contacts had while in it.
    pub touchpoints: u64,
    /// Those touchpoints by channel, most first.
    pub by_channel: Vec<Share<ChannelKey>>,
    /// Those touchpoints by interaction type, most first.
    pub by_interaction: Vec<Share<InteractionKey>>,
    /// The mean sentiment of those that measured it.
    pub mean_sentiment: Option<f64>,
    /// How many of them measured sentiment.
    pub sentiment_count: u64,
    /// The most frequent outcomes, most first (shares of the stage's touchpoints).
    pub top_outcomes: Vec<Share<OutcomeKey>>,
    /// The stage a stay here advances to, if any.
    pub next_stage: Option<StageKey>,
    /// Conversion to `next_stage` by last channel touched in the stage (empty without
    /// a next stage).
    pub conversion: Vec<ChannelConversion>,
}

/// The journey map of one journey: how contacts got through each stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JourneyMap {
    /// The journey.
    pub journey: JourneyId,
    /// Contacts in the map: those in the scope with a transition or a touchpoint.
    pub contacts: u64,
    /// Every touchpoint of those contacts: the stages' counts plus
    /// `touchpoints_before_entry`.
    pub touchpoints: u64,
    /// Touchpoints before the contact entered the journey (in no stage).
    pub touchpoints_before_entry: u64,
    /// Every stage, in journey order.
    pub stages: Vec<StageMap>,
}

/// What a [`JourneyMap`] lists.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MapOptions {
    /// How many outcomes each stage lists; 5 by default.
    pub top_outcomes: usize,
}

impl Default for MapOptions {
    fn default() -> Self {
        MapOptions { top_outcomes: 5 }
    }
}

/// Dense counters for one pass.
struct Counters {
    channels: usize,
    interactions: usize,
    outcomes: usize,
    passed: Vec<u64>,
    /// Which contact (+1) last marked each stage as passed.
    marked_by: Vec<u32>,
    /// Per row (stage, then "before entry"), the touchpoints by channel, then by
    /// interaction type, then by outcome ("no outcome" last): one row of one
    /// array, so the hot loop keeps a single slice in a register.
    by_key: Vec<u64>,
    sentiment_sum: Vec<f64>,
    sentiment_count: Vec<u64>,
    /// Per stage, per last channel (`channels` for none).
    stays: Vec<u64>,
    advanced: Vec<u64>,
    before_entry: u64,
    contacts: u64,
    touchpoints: u64,
}

impl Counters {
    fn row_width(&self) -> usize {
        self.channels + self.interactions + self.outcomes + 1
    }

    fn by_channel(&self, row: usize) -> &[u64] {
        &self.by_key[row * self.row_width()..][..self.channels]
    }

    fn by_interaction(&self, row: usize) -> &[u64] {
        &self.by_key[row * self.row_width() + self.channels..][..self.interactions]
    }

    /// Without "no outcome".
    fn by_outcome(&self, row: usize) -> &[u64] {
        &self.by_key[row * self.row_width() + self.channels + self.interactions..][..self.outcomes]
    }
}

impl JourneyMap {
    /// The map of the contacts of `log` in `scope` (a segment: a
    /// [`ContactSet`](crate::analytics::ContactSet) over [`InteractionLog::contacts`]),
    /// with transitions and touchpoints up to its as-of instant.
    ///
    /// ```
    /// use journeys::analytics::Scope;
    /// use journeys::journey_map::{InteractionLog, JourneyMap, MapOptions};
    /// use journeys::{Journey, SequencePolicy, Source, Stage, Touchpoint, Move, decide};
    /// let journey = Journey::new("j", "J", SequencePolicy::RequiresSequence,
    ///     [Stage::new("lead", "Lead")?, Stage::new("won", "Won")?])?;
    /// let at = |m: i64| chrono::DateTime::UNIX_EPOCH + chrono::Duration::minutes(m);
    /// let sales = Source::manual("sales".parse()?);
    /// let entry = decide(&journey, None, &Move::to_stage("ada".parse()?, "lead".parse()?, at(0), sales))?;
    /// let tp = Touchpoint::new("t1".parse()?, "ada".parse()?, at(5), "email".parse()?, "open".parse()?);
    /// let log = InteractionLog::new(&journey, [&entry], [&tp])?;
    /// let map = JourneyMap::compute(&log, Scope::all(), &MapOptions::default());
    /// assert_eq!((map.stages[0].contacts, map.stages[0].touchpoints), (1, 1));
    /// assert_eq!(map.stages[0].conversion[0].advanced, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn compute(log: &InteractionLog, scope: Scope<'_>, options: &MapOptions) -> JourneyMap {
        let counters = count(log, &scope);
        report(log, counters, options)
    }
}

fn count(log: &InteractionLog, scope: &Scope<'_>) -> Counters {
    let stages = log.journey.stage_count();
    let (channels, interactions, outcomes) = (log.channels.len(), log.interactions.len(), log.outcomes.len());
    let next: Vec<u16> = (0..stages)
        .map(|s| log.journey.next_stage_index(s).and_then(|n| u16::try_from(n).ok()).unwrap_or(NONE))
        .collect();
    // One row per stage plus a last row for touchpoints before entry, and a last
    // outcome column for "no outcome": the hot loop then counts without branching.
    let rows = stages + 1;
    let width = channels + interactions + outcomes + 1;
    let mut k = Counters {
        channels,
        interactions,
        outcomes,
        passed: vec![0; stages],
        marked_by: vec![0; stages],
        by_key: vec![0; rows * width],
        sentiment_sum: vec![0.0; rows],
        sentiment_count: vec![0; rows],
        stays: vec![0; stages * (channels + 1)],
        advanced: vec![0; stages * (channels + 1)],
        before_entry: 0,
        contacts: 0,
        touchpoints: 0,
    };
    let (tp, combinations) = (&log.tp, &log.combinations);
    // Per row, the touchpoints by combination: one cell per touchpoint, expanded
    // into `by_key` (and the sentiment counts) at the end. A log holds fewer than
    // 2^32 touchpoints, so 32-bit cells do not overflow and take half the cache.
    let listed = combinations.len();
    let mut by_combination = vec![0u32; rows * listed];
    for c in 0..log.contacts.len() {
        let Some(stays) = log.stays(c, scope) else { continue };
        if stays.is_empty() {
            continue;
        }
        k.contacts += 1;
        let mark = c as u32 + 1;
        k.touchpoints += stays.visible.len() as u64;
        for stay in stays {
            // The counters' row for the stage (the last row before entry).
            let row = usize::from(stay.stage).min(stages);
            let tally = &mut by_combination[row * listed..(row + 1) * listed];
            // Sentiment adds up in a register and goes to the row at the end of the stay.
            let mut sum = 0.0;
            let during = stay.touchpoints.clone();
            let of = combinations.of[during.clone()].iter().zip(&tp.sentiment[during.clone()]);
            for (j, (&combination, &sentiment)) in of.enumerate() {
                let i = during.start + j;
                sum += sentiment;
                if let Some(cell) = tally.get_mut(usize::from(combination)) {
                    *cell += 1;
                } else {
                    let by_key = &mut k.by_key[row * width..(row + 1) * width];
                    by_key[usize::from(tp.channel[i])] += 1;
                    by_key[channels + usize::from(tp.interaction[i])] += 1;
                    by_key[channels + interactions + usize::from(tp.outcome[i]).min(outcomes)] += 1;
                    k.sentiment_count[row] += u64::from(tp.flags[i] & MEASURED != 0);
                }
            }
            k.sentiment_sum[row] += sum;
            if stay.stage != NONE {
                let last_channel = during.last().map_or(channels, |i| usize::from(tp.channel[i]));
                let slot = usize::from(stay.stage) * (channels + 1) + last_channel;
                k.stays[slot] += 1;
                if let Some((_, to)) = stay.ended_by {
                    k.advanced[slot] += u64::from(next[usize::from(stay.stage)] == to);
                }
            }
            if let Some((_, to)) = stay.ended_by {
                let s = usize::from(to);
                if k.marked_by[s] != mark {
                    k.marked_by[s] = mark;
                    k.passed[s] += 1;
                }
            }
        }
    }
    for (row, tally) in by_combination.chunks_exact(listed.max(1)).enumerate() {
        let by_key = &mut k.by_key[row * width..(row + 1) * width];
        for (combination, count) in
            tally.iter().map(|&count| u64::from(count)).enumerate().filter(|&(_, count)| count > 0)
        {
            by_key[usize::from(combinations.channel[combination])] += count;
            by_key[channels + usize::from(combinations.interaction[combination])] += count;
            by_key[channels + interactions + usize::from(combinations.outcome[combination]).min(outcomes)] +=
                count;
            if combinations.measured[combination] {
                k.sentiment_count[row] += count;
            }
        }
    }
    k.before_entry = k.by_channel(stages).iter().sum();
    k
}

/// The non-zero counts of `row` as shares of `total`, most first, ties by key.
fn shares<K: Clone + Ord + AsRef<str> + Eq + std::hash::Hash>(
    keys: &KeyTable<K>,
    row: &[u64],
    total: u64,
    limit: usize,
) -> Vec<Share<K>> {
    let mut listed: Vec<Share<K>> = row
        .iter()
        .enumerate()
        .filter(|&(_, &count)| count > 0)
        .filter_map(|(i, &count)| {
            let key = keys.get(u16::try_from(i).ok()?)?.clone();
            Some(Share { key, count, share: ratio(count, total) })
        })
        .collect();
    listed.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    listed.truncate(limit);
    listed
}

fn report(log: &InteractionLog, k: Counters, options: &MapOptions) -> JourneyMap {
    let journey = &log.journey;
    let width = k.channels + 1;
    let stages = journey
        .stages()
        .enumerate()
        .map(|(s, stage)| {
            let touchpoints: u64 = k.by_channel(s).iter().sum();
            let next_stage =
                journey.next_stage_index(s).and_then(|n| journey.stage_at(n)).map(|n| n.key().clone());
            let conversion = if next_stage.is_some() {
                (0..width)
                    .filter(|&ch| k.stays[s * width + ch] > 0)
                    .map(|ch| {
                        let (stays, advanced) = (k.stays[s * width + ch], k.advanced[s * width + ch]);
                        let last_channel =
                            u16::try_from(ch).ok().and_then(|ch| log.channels.get(ch)).cloned();
                        ChannelConversion { last_channel, stays, advanced, rate: ratio(advanced, stays) }
                    })
                    .collect()
            } else {
                Vec::new()
            };
            StageMap {
                stage: stage.key().clone(),
                name: stage.name().clone(),
                contacts: k.passed[s],
                touchpoints,
                by_channel: shares(&log.channels, k.by_channel(s), touchpoints, usize::MAX),
                by_interaction: shares(&log.interactions, k.by_interaction(s), touchpoints, usize::MAX),
                mean_sentiment: (k.sentiment_count[s] > 0)
                    .then(|| k.sentiment_sum[s] / k.sentiment_count[s] as f64),
                sentiment_count: k.sentiment_count[s],
                top_outcomes: shares(&log.outcomes, k.by_outcome(s), touchpoints, options.top_outcomes),
                next_stage,
                conversion,
            }
        })
        .collect();
    JourneyMap {
        journey: journey.id().clone(),
        contacts: k.contacts,
        touchpoints: k.touchpoints,
        touchpoints_before_entry: k.before_entry,
        stages,
    }
}
