//! Ambassador analytics: whose referrals convert, whether referred contacts convert
//! better, and who else looks like an ambassador.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::log::{InteractionLog, ratio};
use crate::analytics::Scope;
use crate::model::ids::{CampaignId, ChannelKey, ContactId, JourneyId, StageKey};
use crate::model::journey::{Journey, StageOutcome};
use crate::model::referral::Referral;

/// What counts for ambassador analytics.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct AmbassadorOptions {
    /// Only referrals of this campaign; every campaign when `None` (the default).
    pub campaign: Option<CampaignId>,
    /// The channels that are social networks; none by default.
    pub social_channels: Vec<ChannelKey>,
    /// The least sentiment that is positive; 0.5 by default.
    pub positive_sentiment: f64,
    /// A candidate's score per active referral made; 3 by default.
    pub referral_weight: f64,
    /// A candidate's score per referral that converted; 5 by default.
    pub converted_referral_weight: f64,
    /// How many candidates to list; 20 by default.
    pub candidates: usize,
}

impl Default for AmbassadorOptions {
    fn default() -> Self {
        AmbassadorOptions {
            campaign: None,
            social_channels: Vec::new(),
            positive_sentiment: 0.5,
            referral_weight: 3.0,
            converted_referral_weight: 5.0,
            candidates: 20,
        }
    }
}

impl AmbassadorOptions {
    /// The same options with `channels` as the social ones.
    #[must_use]
    pub fn with_social_channels(mut self, channels: impl IntoIterator<Item = ChannelKey>) -> Self {
        self.social_channels = channels.into_iter().collect();
        self
    }

    /// The same options listing `n` candidates.
    #[must_use]
    pub fn with_candidates(mut self, n: usize) -> Self {
        self.candidates = n;
        self
    }

    /// The same options restricted to referrals of `campaign`.
    #[must_use]
    pub fn for_campaign(mut self, campaign: CampaignId) -> Self {
        self.campaign = Some(campaign);
        self
    }
}

/// The funnel of one advocate's referred contacts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdvocateFunnel {
    /// The advocate.
    pub advocate: ContactId,
    /// Contacts with an active referral from the advocate.
    pub referred: u64,
    /// Per stage, in journey order: how many of them reached it.
    pub reached: Vec<u64>,
    /// How many of them converted.
    pub converted: u64,
    /// `converted / referred`.
    pub conversion: f64,
    /// The median time from entering the journey to converting, in seconds (the lower
    /// middle value for an even count).
    pub median_seconds_to_convert: Option<i64>,
}

/// Conversion of one group of journey members.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupConversion {
    /// Members of the journey in the group.
    pub contacts: u64,
    /// How many of them converted.
    pub converted: u64,
    /// `converted / contacts`.
    pub rate: f64,
}

/// A contact who looks like an ambassador.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AmbassadorCandidate {
    /// The contact.
    pub contact: ContactId,
    /// Touchpoints on a social channel with positive sentiment.
    pub positive_social_touchpoints: u64,
    /// Active referrals made.
    pub referrals_made: u64,
    /// Of those, referred contacts who converted.
    pub converted_referrals: u64,
    /// `positive_social_touchpoints + referral_weight × referrals_made +
    /// converted_referral_weight × converted_referrals`.
    pub score: f64,
}

/// Ambassador analytics for one journey.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AmbassadorReport {
    /// The journey.
    pub journey: JourneyId,
    /// The stages the funnels count, in journey order.
    pub stages: Vec<StageKey>,
    /// The stages that count as converted: those marked [`StageOutcome::Converted`],
    /// or the last stage that is not an exit when none is marked.
    pub converted_stages: Vec<StageKey>,
    /// Every advocate with an active referral, most conversions first.
    pub advocates: Vec<AdvocateFunnel>,
    /// Journey members with an active referral.
    pub referred: GroupConversion,
    /// Journey members without one.
    pub not_referred: GroupConversion,
    /// Candidates by score, highest first.
    pub candidates: Vec<AmbassadorCandidate>,
}

/// Where each contact got in the journey.
struct Progress {
    /// Per contact: when it entered the journey (`None`: never).
    entered_at: Vec<Option<i64>>,
    /// Per contact: when it first reached a converted stage.
    converted_at: Vec<Option<i64>>,
}

fn converted_stages(journey: &Journey) -> Vec<bool> {
    let marked: Vec<bool> = journey.stages().map(|s| s.outcome() == Some(StageOutcome::Converted)).collect();
    if marked.contains(&true) {
        return marked;
    }
    let last_step = journey.stages().enumerate().filter(|(_, s)| !s.is_exit()).map(|(i, _)| i).last();
    (0..journey.stage_count()).map(|i| Some(i) == last_step).collect()
}

fn progress(log: &InteractionLog, scope: &Scope<'_>, converting: &[bool]) -> Progress {
    let n = log.contacts.len();
    let mut entered_at = vec![None; n];
    let mut converted_at = vec![None; n];
    for c in 0..n {
        let Some((_, mut cursor)) = log.visible(c, scope) else { continue };
        entered_at[c] = cursor.upcoming().map(|(at, _)| at);
        while let Some((at, stage)) = cursor.upcoming() {
            if converting[usize::from(stage)] {
                converted_at[c] = Some(at);
                break;
            }
            cursor.take();
        }
    }
    Progress { entered_at, converted_at }
}

fn lower_median(mut values: Vec<i64>) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    Some(values[(values.len() - 1) / 2])
}

impl AmbassadorReport {
    /// Ambassador analytics of the contacts of `log` in `scope` with `referrals`
    /// (inactive ones are passed over): referred contacts outside the scope's segment
    /// do not count in their advocate's funnel.
    ///
    /// ```
    /// use journeys::analytics::Scope;
    /// use journeys::journey_map::{AmbassadorOptions, AmbassadorReport, InteractionLog};
    /// use journeys::{Journey, Referral, SequencePolicy, Stage};
    /// let journey = Journey::new("j", "J", SequencePolicy::AnyOrder, [Stage::new("lead", "Lead")?])?;
    /// let log = InteractionLog::new(&journey, [], [])?;
    /// let at = "2026-01-05T09:00:00Z".parse()?;
    /// let referral = Referral::new("ada".parse()?, "bob".parse()?, "spring".parse()?, at)?;
    /// let report = AmbassadorReport::compute(&log, Scope::all(), &[referral], &AmbassadorOptions::default());
    /// assert_eq!((report.advocates[0].referred, report.advocates[0].converted), (1, 0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn compute(
        log: &InteractionLog,
        scope: Scope<'_>,
        referrals: &[Referral],
        options: &AmbassadorOptions,
    ) -> AmbassadorReport {
        let journey = &log.journey;
        let converting = converted_stages(journey);
        let progress = progress(log, &scope, &converting);
        let counted: Vec<&Referral> = referrals
            .iter()
            .filter(|r| r.is_active() && options.campaign.as_ref().is_none_or(|c| r.campaign() == c))
            .collect();

        // Each advocate's referred contacts, each counted once across campaigns.
        let mut by_advocate: BTreeMap<&ContactId, Vec<&ContactId>> = BTreeMap::new();
        let mut referred = vec![false; log.contacts.len()];
        for r in &counted {
            let list = by_advocate.entry(r.advocate()).or_default();
            if !list.contains(&r.referred()) {
                list.push(r.referred());
            }
            if let Some(c) = log.contacts.get(r.referred().as_str()) {
                referred[c.index()] = true;
            }
        }

        let mut seen = vec![false; journey.stage_count()];
        let mut advocates: Vec<AdvocateFunnel> = by_advocate
            .iter()
            .map(|(advocate, contacts)| {
                let mut reached = vec![0u64; journey.stage_count()];
                let mut times = Vec::new();
                for contact in contacts {
                    let Some(c) = log.contacts.get(contact.as_str()) else { continue };
                    let c = c.index();
                    let Some((_, mut cursor)) = log.visible(c, &scope) else { continue };
                    seen.fill(false);
                    while let Some(stage) = cursor.take() {
                        let s = usize::from(stage);
                        if !seen[s] {
                            seen[s] = true;
                            reached[s] += 1;
                        }
                    }
                    if let (Some(entered), Some(converted)) =
                        (progress.entered_at[c], progress.converted_at[c])
                    {
                        times.push((converted - entered) / 1000);
                    }
                }
                let converted = times.len() as u64;
                AdvocateFunnel {
                    advocate: (*advocate).clone(),
                    referred: contacts.len() as u64,
                    reached,
                    converted,
                    conversion: ratio(converted, contacts.len() as u64),
                    median_seconds_to_convert: lower_median(times),
                }
            })
            .collect();
        advocates.sort_by(|a, b| {
            b.converted
                .cmp(&a.converted)
                .then(b.referred.cmp(&a.referred))
                .then_with(|| a.advocate.cmp(&b.advocate))
        });

        let mut groups = [(0u64, 0u64); 2];
        for c in 0..log.contacts.len() {
            if progress.entered_at[c].is_some() {
                let group = &mut groups[usize::from(referred[c])];
                group.0 += 1;
                group.1 += u64::from(progress.converted_at[c].is_some());
            }
        }
        let group = |(contacts, converted): (u64, u64)| GroupConversion {
            contacts,
            converted,
            rate: ratio(converted, contacts),
        };

        let candidates = candidates(log, &scope, &advocates, options);
        AmbassadorReport {
            journey: journey.id().clone(),
            stages: journey.stages().map(|s| s.key().clone()).collect(),
            converted_stages: journey
                .stages()
                .zip(&converting)
                .filter(|(_, c)| **c)
                .map(|(s, _)| s.key().clone())
                .collect(),
            advocates,
            referred: group(groups[1]),
            not_referred: group(groups[0]),
            candidates,
        }
    }
}

fn candidates(
    log: &InteractionLog,
    scope: &Scope<'_>,
    advocates: &[AdvocateFunnel],
    options: &AmbassadorOptions,
) -> Vec<AmbassadorCandidate> {
    let social: Vec<bool> = (0..log.channels.len())
        .map(|ch| {
            u16::try_from(ch)
                .ok()
                .and_then(|ch| log.channels.get(ch))
                .is_some_and(|key| options.social_channels.contains(key))
        })
        .collect();
    let mut found: HashMap<ContactId, AmbassadorCandidate> = HashMap::new();
    let tp = &log.tp;
    for (c, name) in log.contacts.iter() {
        let Some((touchpoints, _)) = log.visible(c.index(), scope) else { continue };
        let positive = touchpoints
            .filter(|&i| {
                social[usize::from(tp.channel[i])]
                    && tp.sentiment(i).is_some_and(|s| s >= options.positive_sentiment)
            })
            .count() as u64;
        // The table holds validated contact ids only, so `new` always succeeds.
        if let (true, Ok(contact)) = (positive > 0, ContactId::new(name)) {
            let found_one = candidate(&contact, positive, 0, 0, options);
            found.insert(contact, found_one);
        }
    }
    for funnel in advocates {
        let entry = found
            .entry(funnel.advocate.clone())
            .or_insert_with(|| candidate(&funnel.advocate, 0, 0, 0, options));
        *entry = candidate(
            &funnel.advocate,
            entry.positive_social_touchpoints,
            funnel.referred,
            funnel.converted,
            options,
        );
    }
    let mut listed: Vec<AmbassadorCandidate> = found.into_values().collect();
    listed.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.contact.cmp(&b.contact)));
    listed.truncate(options.candidates);
    listed
}

fn candidate(
    contact: &ContactId,
    positive: u64,
    referrals: u64,
    converted: u64,
    options: &AmbassadorOptions,
) -> AmbassadorCandidate {
    AmbassadorCandidate {
        contact: contact.clone(),
        positive_social_touchpoints: positive,
        referrals_made: referrals,
        converted_referrals: converted,
        score: positive as f64
            + options.referral_weight * referrals as f64
            + options.converted_referral_weight * converted as f64,
    }
}
