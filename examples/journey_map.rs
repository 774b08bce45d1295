//! Journey maps on a generated data set: 2,000 contacts walking a sales journey
//! while touching the website, e-mail, social networks, podcasts, the phone, stores
//! and events, switching channels now and then; a few of them advocates who refer
//! others. Prints the journey map, one contact's timeline, the gap report, the
//! ambassador table and a breakdown by segment.
//!
//! ```text
//! cargo run --example journey_map            # readable tables
//! cargo run --example journey_map -- --json  # the same as JSON
//! ```
//!
//! The data is deterministic: the same run prints the same numbers.

#[path = "../tests/support/journey_data.rs"]
mod journey_data;

use journey_data::{Size, contact_id, data_set};
use journeys::analytics::{Scope, Segments, breakdown};
use journeys::journey_map::{
    AmbassadorOptions, AmbassadorReport, DimensionGaps, GapOptions, GapReport, InteractionLog, JourneyMap,
    MapOptions, Share, TimelineRow,
};
use journeys::segment::Segment;
use journeys::{Contact, Name};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let json = std::env::args().any(|a| a == "--json");
    let size = Size { contacts: 2_000, touchpoints_per_contact: 10, advocate_every: 50 };
    let data = data_set(size, 7);
    let log = InteractionLog::new(&data.journey, &data.transitions, &data.touchpoints)?;

    let map = JourneyMap::compute(&log, Scope::all(), &MapOptions::default());
    let timeline = log.timeline(&contact_id(1));
    let gaps = GapReport::compute(&log, Scope::all(), &GapOptions::default());
    let options = AmbassadorOptions::default().with_candidates(10).with_social_channels(["social".parse()?]);
    let ambassadors = AmbassadorReport::compute(&log, Scope::all(), &data.referrals, &options);

    // Segments over a contact attribute, in the automation condition language.
    let contacts: Vec<Contact> = (0..size.contacts)
        .map(|i| {
            let region = ["emea", "amer", "apac"][i % 3];
            Ok(Contact::new(contact_id(i)).with_attribute("region".parse()?, region.into()))
        })
        .collect::<Result<_, journeys::DomainError>>()?;
    let segments = [
        Segment::new(
            "EMEA".parse()?,
            serde_json::from_str(r#"{"field": "contact.region", "op": "eq", "value": "emea"}"#)?,
        )?,
        Segment::new(
            "Americas".parse()?,
            serde_json::from_str(r#"{"field": "contact.region", "op": "eq", "value": "amer"}"#)?,
        )?,
    ];
    let parts = Segments::by_segment(log.contacts(), &contacts, &segments);
    let by_segment =
        breakdown(&parts, Scope::all(), |scope| JourneyMap::compute(&log, scope, &MapOptions::default()));

    if json {
        let by_segment: Vec<_> = by_segment
            .iter()
            .map(|(name, map)| serde_json::json!({"segment": name, "journey_map": map}))
            .collect();
        let all = serde_json::json!({
            "journey_map": map,
            "timeline": timeline,
            "gaps": gaps,
            "ambassadors": ambassadors,
            "by_segment": by_segment,
        });
        println!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(());
    }

    println!(
        "Journey map of {}: {} contacts, {} touchpoints ({} before entering the journey)\n",
        map.journey, map.contacts, map.touchpoints, map.touchpoints_before_entry
    );
    println!(
        "{:<14} {:>8} {:>11} {:>9}  {:<44} {:<40}",
        "stage", "contacts", "touchpoints", "sentiment", "top channels", "top interactions"
    );
    for stage in &map.stages {
        println!(
            "{:<14} {:>8} {:>11} {:>9}  {:<44} {:<40}",
            stage.stage.as_str(),
            stage.contacts,
            stage.touchpoints,
            stage.mean_sentiment.map_or("-".into(), |s| format!("{s:+.2}")),
            top(&stage.by_channel, 3),
            top(&stage.by_interaction, 3),
        );
    }
    println!("\nTop outcomes and conversion to the next stage by the last channel touched:");
    for stage in map.stages.iter().filter(|s| s.next_stage.is_some()) {
        println!("  {:<14} outcomes: {}", stage.stage.as_str(), top(&stage.top_outcomes, 3));
        let rates: Vec<String> = stage
            .conversion
            .iter()
            .map(|c| {
                let channel = c.last_channel.as_ref().map_or("(none)", |k| k.as_str());
                format!("{channel} {:.0}% of {}", c.rate * 100.0, c.stays)
            })
            .collect();
        println!(
            "  {:<14} → {}: {}",
            "",
            stage.next_stage.as_ref().map_or("", |k| k.as_str()),
            rates.join(", ")
        );
    }

    println!("\nTimeline of {}:", contact_id(1));
    print_timeline(&timeline);

    println!(
        "\nGap report (what followed within {} days; drop-off = not advanced):",
        gaps.window_seconds / 86_400
    );
    for dimension in &gaps.dimensions {
        print_gaps(dimension);
    }

    println!(
        "\nAmbassadors (journey {}; converted = reached {}):",
        ambassadors.journey,
        names(&ambassadors.converted_stages)
    );
    println!(
        "{:<10} {:>8} {:>9} {:>10} {:>14}  reached per stage",
        "advocate", "referred", "converted", "conversion", "median to conv"
    );
    for a in ambassadors.advocates.iter().take(10) {
        println!(
            "{:<10} {:>8} {:>9} {:>9.0}% {:>14}  {:?}",
            a.advocate.as_str(),
            a.referred,
            a.converted,
            a.conversion * 100.0,
            a.median_seconds_to_convert.map_or("-".into(), |s| format!("{:.1} days", s as f64 / 86_400.0)),
            a.reached,
        );
    }
    let (r, n) = (&ambassadors.referred, &ambassadors.not_referred);
    println!(
        "referred contacts convert {:.1}% ({} of {}), others {:.1}% ({} of {})",
        r.rate * 100.0,
        r.converted,
        r.contacts,
        n.rate * 100.0,
        n.converted,
        n.contacts
    );
    println!("\nAmbassador candidates:");
    println!(
        "{:<10} {:>6} {:>16} {:>9} {:>9}",
        "contact", "score", "positive social", "referrals", "converted"
    );
    for c in &ambassadors.candidates {
        println!(
            "{:<10} {:>6.1} {:>16} {:>9} {:>9}",
            c.contact.as_str(),
            c.score,
            c.positive_social_touchpoints,
            c.referrals_made,
            c.converted_referrals
        );
    }

    println!("\nBy segment (region):");
    println!("{:<10} {:>8} {:>11}  lead → demo_complete", "segment", "contacts", "touchpoints");
    for (name, part) in &by_segment {
        let lead = &part.stages[0];
        let (stays, advanced) =
            lead.conversion.iter().fold((0, 0), |(s, a), c| (s + c.stays, a + c.advanced));
        println!(
            "{:<10} {:>8} {:>11}  {:.1}% of {}",
            name.as_ref().map_or("(other)", Name::as_str),
            part.contacts,
            part.touchpoints,
            if stays == 0 { 0.0 } else { advanced as f64 * 100.0 / stays as f64 },
            stays
        );
    }
    Ok(())
}

fn top<K: AsRef<str>>(shares: &[Share<K>], n: usize) -> String {
    let listed: Vec<String> =
        shares.iter().take(n).map(|s| format!("{} {:.0}%", s.key.as_ref(), s.share * 100.0)).collect();
    listed.join(", ")
}

fn names(keys: &[journeys::StageKey]) -> String {
    keys.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
}

fn print_timeline(rows: &[TimelineRow]) {
    println!(
        "{:<9} {:<12} {:<17} {:<9} {:<10} {:<19} {:<14}",
        "contact", "touchpoint", "at", "channel", "interaction", "outcome", "stage"
    );
    for r in rows {
        println!(
            "{:<9} {:<12} {:<17} {:<9} {:<10} {:<19} {:<14}",
            r.contact.as_str(),
            r.touchpoint.as_str(),
            r.at.format("%Y-%m-%d %H:%M"),
            r.channel.as_str(),
            r.interaction.as_str(),
            r.outcome.as_ref().map_or("-", |o| o.as_str()),
            r.stage.as_ref().map_or("(not yet in)", |s| s.as_str()),
        );
    }
}

fn print_gaps(d: &DimensionGaps) {
    println!(
        "  by {:?}: {} switches; staying on one: {:.1}% drop-off over {} contacts",
        d.dimension,
        d.switch_count,
        d.same.drop_off() * 100.0,
        d.same.total()
    );
    println!(
        "    {:<22} {:>6} {:>9} {:>7} {:>6} {:>9} {:>8}",
        "switch", "count", "advanced", "stayed", "lost", "drop-off", "excess"
    );
    for s in d.switches.iter().take(6) {
        println!(
            "    {:<22} {:>6} {:>9} {:>7} {:>6} {:>8.1}% {:>+7.1}%",
            format!("{} → {}", s.from, s.to),
            s.followed.total(),
            s.followed.advanced,
            s.followed.stayed,
            s.followed.lost,
            s.drop_off * 100.0,
            s.excess_drop_off * 100.0
        );
    }
    for stage in &d.stages {
        let Some(worst) = stage.switches.first().filter(|w| w.excess_drop_off > 0.0) else { continue };
        println!(
            "    in {:<14} worst: {} → {} ({:+.1}% over staying, {} switches)",
            stage.stage.as_str(),
            worst.from,
            worst.to,
            worst.excess_drop_off * 100.0,
            worst.followed.total()
        );
    }
}
