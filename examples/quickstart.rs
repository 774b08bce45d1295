//! A first tour: define the referral and onboarding journeys, move a few contacts,
//! watch a skip be refused, change an enrollment status and see the Advocate
//! Enrollment journey follow.
//!
//! Run with `cargo run --example quickstart`.

use journeys::{
    Contact, EnrollmentStatus, InMemoryRepository, Journey, JourneyEngine, SequencePolicy, Source, Stage,
    StageOutcome,
};

fn referral() -> Result<Journey, journeys::DomainError> {
    Journey::new(
        "referral",
        "Referral",
        SequencePolicy::RequiresSequence,
        [
            Stage::new("lead", "Lead")?,
            Stage::new("demo_complete", "Demo Complete")?,
            Stage::new("trial", "Trial")?,
            Stage::new("conversion", "Conversion")?.with_outcome(StageOutcome::Converted),
            Stage::new("closed_lost", "Closed/Lost")?.exit().with_outcome(StageOutcome::Lost),
        ],
    )
}

fn onboarding() -> Result<Journey, journeys::DomainError> {
    Journey::new(
        "onboarding",
        "Onboarding",
        SequencePolicy::AnyOrder,
        [
            Stage::new("enrolled", "Enrolled")?,
            Stage::new("first_referral_sent", "First referral sent")?,
            Stage::new("first_order_received", "First order received")?,
        ],
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let engine = JourneyEngine::new(InMemoryRepository::new());
    let referral = engine.define_journey(referral()?).await?;
    let onboarding = engine.define_journey(onboarding()?).await?;
    let sales = Source::manual("sales@example.com".parse()?);

    let contacts = ["ada", "grace", "linus"];
    for id in contacts {
        engine.add_contact(Contact::new(id.parse()?)).await?;
        engine.enroll(&id.parse()?, referral.id(), sales.clone()).await?;
    }

    // Ada walks the funnel to conversion, one stage at a time.
    let ada = "ada".parse()?;
    for stage in ["demo_complete", "trial", "conversion"] {
        let t = engine.move_contact(&ada, referral.id(), &stage.parse()?, sales.clone()).await?;
        println!("ada: {} -> {} (version {})", t.from.as_ref().map_or("-", |s| s.as_str()), t.to, t.version);
    }

    // Grace tries to skip the demo: the journey requires sequence.
    let grace = "grace".parse()?;
    match engine.move_contact(&grace, referral.id(), &"trial".parse()?, sales.clone()).await {
        Ok(_) => println!("grace skipped the demo?!"),
        Err(refused) => println!("grace: refused [{}] {refused}", refused.code()),
    }
    // Linus is lost: exit stages are reachable from anywhere.
    let linus = "linus".parse()?;
    engine.move_contact(&linus, referral.id(), &"closed_lost".parse()?, sales.clone()).await?;

    // Ada becomes an advocate: the system journey follows her status.
    engine.set_enrollment_status(&ada, EnrollmentStatus::Enrolled).await?;
    engine.enroll(&ada, onboarding.id(), Source::automation("advocate-welcome".parse()?)).await?;
    let system = Journey::advocate_enrollment();
    match engine.move_contact(&ada, system.id(), &"banned".parse()?, sales).await {
        Ok(_) => println!("moved the system journey by hand?!"),
        Err(refused) => println!("ada: refused [{}] {refused}", refused.code()),
    }

    println!("\nwhere everyone stands:");
    for id in contacts {
        let contact = engine.contact(&id.parse()?).await?;
        print!("  {id:<6} status {:<9}", contact.enrollment.to_string());
        for membership in engine.memberships(&contact.id).await? {
            print!(" | {}: {} (v{})", membership.journey, membership.stage, membership.version);
        }
        println!();
    }
    Ok(())
}
