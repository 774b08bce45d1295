//! The condition language: each operator, typing, missing fields, groups, and
//! properties against a reference model.

use chrono::{DateTime, Utc};
use journeys::automation::condition::{Condition, Field, Op, Verdict};
use journeys::automation::{Event, EventKind};
use journeys::{Contact, DomainError, EnrollmentStatus, Value};
use proptest::prelude::*;

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn field(text: &str) -> Field {
    text.parse().unwrap()
}

fn num(n: f64) -> Value {
    Value::number(n).unwrap()
}

fn strings(items: &[&str]) -> Value {
    Value::List(items.iter().map(|s| Value::from(*s)).collect())
}

/// Ada: plan "gold", 12 seats, tags [beta, vip], joined 2026-01-05, enrolled.
fn ada() -> Contact {
    Contact::new("ada".parse().unwrap())
        .with_status(EnrollmentStatus::Enrolled)
        .with_attribute("plan".parse().unwrap(), Value::from("gold"))
        .with_attribute("seats".parse().unwrap(), num(12.0))
        .with_attribute("tags".parse().unwrap(), strings(&["beta", "vip"]))
        .with_attribute("joined".parse().unwrap(), Value::timestamp(at("2026-01-05T00:00:00Z")))
        .with_attribute("churned".parse().unwrap(), Value::Bool(false))
}

fn verdict(json: &str) -> Verdict {
    let condition: Condition = serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"));
    condition.compile().unwrap_or_else(|e| panic!("{json}: {e}")).evaluate(&ada())
}

fn cmp(field: &str, op: &str, value: &str) -> String {
    format!(r#"{{"field": "contact.{field}", "op": "{op}", "value": {value}}}"#)
}

#[test]
fn each_operator_decides_on_a_present_field_of_its_type() {
    let cases: &[(&str, &str, &str, Verdict)] = &[
        ("plan", "eq", r#""gold""#, Verdict::True),
        ("plan", "eq", r#""free""#, Verdict::False),
        ("plan", "ne", r#""free""#, Verdict::True),
        ("plan", "ne", r#""gold""#, Verdict::False),
        ("seats", "lt", "13", Verdict::True),
        ("seats", "lt", "12", Verdict::False),
        ("seats", "le", "12", Verdict::True),
        ("seats", "le", "11.5", Verdict::False),
        ("seats", "gt", "11", Verdict::True),
        ("seats", "gt", "12", Verdict::False),
        ("seats", "ge", "12", Verdict::True),
        ("seats", "ge", "12.5", Verdict::False),
        ("plan", "lt", r#""silver""#, Verdict::True),
        ("joined", "gt", r#"{"timestamp": "2026-01-01T00:00:00Z"}"#, Verdict::True),
        ("joined", "lt", r#"{"timestamp": "2026-01-01T00:00:00Z"}"#, Verdict::False),
        ("plan", "in", r#"["silver", "gold"]"#, Verdict::True),
        ("plan", "in", r#"["silver", "bronze"]"#, Verdict::False),
        ("seats", "in", "[1, 12]", Verdict::True),
        ("tags", "contains", r#""vip""#, Verdict::True),
        ("tags", "contains", r#""alpha""#, Verdict::False),
        ("plan", "contains", r#""ol""#, Verdict::True),
        ("plan", "contains", r#""x""#, Verdict::False),
        ("plan", "starts_with", r#""go""#, Verdict::True),
        ("plan", "starts_with", r#""ld""#, Verdict::False),
        ("churned", "eq", "false", Verdict::True),
        ("tags", "eq", r#"["beta", "vip"]"#, Verdict::True),
    ];
    for (name, op, value, expected) in cases {
        assert_eq!(verdict(&cmp(name, op, value)), *expected, "{name} {op} {value}");
    }
    assert_eq!(verdict(r#"{"field": "contact.plan", "op": "exists"}"#), Verdict::True);
    assert_eq!(verdict(r#"{"field": "contact.nope", "op": "exists"}"#), Verdict::False);
    assert_eq!(verdict(r#"{"field": "enrollment", "op": "eq", "value": "enrolled"}"#), Verdict::True);
}

#[test]
fn a_missing_field_is_missing_never_false_and_a_wrong_type_says_so() {
    for op in ["eq", "ne", "lt", "ge", "in", "contains", "starts_with"] {
        let value = if op == "in" { r#"["x"]"# } else { r#""x""# };
        assert_eq!(verdict(&cmp("nope", op, value)), Verdict::Missing, "{op}");
    }
    assert_eq!(verdict(&cmp("seats", "eq", r#""12""#)), Verdict::TypeMismatch);
    assert_eq!(verdict(&cmp("seats", "ne", r#""12""#)), Verdict::TypeMismatch, "ne is not true across types");
    assert_eq!(verdict(&cmp("plan", "gt", "3")), Verdict::TypeMismatch);
    assert_eq!(verdict(&cmp("seats", "starts_with", r#""1""#)), Verdict::TypeMismatch);
    assert_eq!(verdict(&cmp("seats", "contains", "1")), Verdict::TypeMismatch);
    assert_eq!(verdict(&cmp("seats", "in", r#"["12"]"#)), Verdict::TypeMismatch);
    // `not` keeps an undecided verdict undecided.
    assert_eq!(verdict(&format!(r#"{{"not": {}}}"#, cmp("nope", "eq", "1"))), Verdict::Missing);
}

#[test]
fn groups_combine_as_kleene_logic() {
    let t = cmp("plan", "eq", r#""gold""#);
    let f = cmp("plan", "eq", r#""free""#);
    let m = cmp("nope", "eq", "1");
    let group = |name: &str, parts: &[&String]| {
        format!(r#"{{"{name}": [{}]}}"#, parts.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(","))
    };
    assert_eq!(verdict(&group("all", &[&t, &t])), Verdict::True);
    assert_eq!(verdict(&group("all", &[&t, &m])), Verdict::Missing);
    assert_eq!(verdict(&group("all", &[&m, &f])), Verdict::False, "a false part decides `all`");
    assert_eq!(verdict(&group("any", &[&f, &m])), Verdict::Missing);
    assert_eq!(verdict(&group("any", &[&m, &t])), Verdict::True, "a true part decides `any`");
    assert_eq!(verdict(&group("any", &[&f, &f])), Verdict::False);
    assert_eq!(verdict(&format!(r#"{{"not": {f}}}"#)), Verdict::True);
}

fn compile_error(json: &str) -> DomainError {
    let condition: Condition = serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"));
    condition.compile().expect_err(json)
}

fn cause(error: &DomainError) -> (&str, &str) {
    match error {
        DomainError::InvalidCondition { path, cause } => (path.as_str(), cause.code()),
        other => panic!("not an invalid condition: {other:?}"),
    }
}

#[test]
fn compiling_refuses_bad_conditions_naming_the_json_pointer() {
    let e = compile_error(r#"{"all": [{"field": "contact.a", "op": "eq", "value": 1}, {"any": []}]}"#);
    assert_eq!(e.code(), "invalid_condition");
    assert_eq!(cause(&e), ("/all/1/any", "empty_condition"));
    let e = compile_error(r#"{"not": {"field": "contact.a", "op": "lt", "value": true}}"#);
    assert_eq!(cause(&e), ("/not/value", "invalid_operand"));
    let e = compile_error(r#"{"field": "contact.a", "op": "eq"}"#);
    assert_eq!(cause(&e), ("/op", "invalid_operand"));
    let e = compile_error(r#"{"field": "contact.a", "op": "exists", "value": 1}"#);
    assert_eq!(cause(&e), ("/value", "invalid_operand"));
    for bad_in in ["[]", "1", r#"[1, "a"]"#, "[[1]]"] {
        let e = compile_error(&format!(r#"{{"field": "contact.a", "op": "in", "value": {bad_in}}}"#));
        assert_eq!(cause(&e), ("/value", "invalid_operand"), "{bad_in}");
    }
    let e = compile_error(r#"{"field": "contact.a", "op": "starts_with", "value": 1}"#);
    assert_eq!(cause(&e), ("/value", "invalid_operand"));
    let e = compile_error(r#"{"any": [{"field": "enrollment", "op": "eq", "value": 3}]}"#);
    assert_eq!(cause(&e), ("/any/0/value", "type_mismatch"), "enrollment is text");
    assert!(serde_json::from_str::<Condition>(r#"{"field": "account.a", "op": "eq", "value": 1}"#).is_err());
    assert!(
        serde_json::from_str::<Condition>(r#"{"field": "contact.a", "op": "like", "value": 1}"#).is_err()
    );
}

#[test]
fn events_answer_event_fields_and_contacts_do_not() {
    let order = Event::new(
        "e1".parse().unwrap(),
        "ada".parse().unwrap(),
        at("2026-03-01T09:00:00Z"),
        EventKind::OrderCreated {
            order: "o1".parse().unwrap(),
            amount: 150.0,
            currency: "EUR".parse().unwrap(),
            campaign: None,
        },
    );
    let big = Condition::compare(field("event.amount"), Op::Gt, num(100.0)).compile().unwrap();
    assert_eq!(big.evaluate(&order), Verdict::True);
    assert_eq!(big.evaluate(&ada()), Verdict::Missing, "a contact has no event fields");
    let campaign = Condition::exists(field("event.campaign")).compile().unwrap();
    assert_eq!(campaign.evaluate(&order), Verdict::False);
}

#[test]
fn an_explanation_lists_every_comparison_with_what_it_read() {
    let condition: Condition = serde_json::from_str(&format!(
        r#"{{"all": [{}, {}, {}]}}"#,
        cmp("plan", "eq", r#""free""#),
        cmp("seats", "gt", "3"),
        cmp("nope", "exists", "null")
    ))
    .unwrap();
    let compiled = condition.compile().unwrap();
    let explained = compiled.explain(&ada());
    assert_eq!(explained.verdict, Verdict::False);
    assert_eq!(explained.verdict, compiled.evaluate(&ada()));
    let seen: Vec<_> =
        explained.comparisons.iter().map(|c| (c.path.as_str(), c.read.clone(), c.verdict)).collect();
    assert_eq!(
        seen,
        [
            ("/all/0", Some(Value::from("gold")), Verdict::False),
            ("/all/1", Some(num(12.0)), Verdict::True),
            ("/all/2", None, Verdict::False),
        ],
        "evaluation goes on after the deciding part so the explanation is complete"
    );
}

// ---- properties against a reference model ----

/// The reference: a naive interpreter of the tree over a map of fields.
fn reference(condition: &Condition, contact: &Contact) -> Verdict {
    match condition {
        Condition::All { all } => {
            let verdicts: Vec<_> = all.iter().map(|c| reference(c, contact)).collect();
            if verdicts.contains(&Verdict::False) {
                Verdict::False
            } else {
                verdicts.into_iter().find(|v| *v != Verdict::True).unwrap_or(Verdict::True)
            }
        }
        Condition::Any { any } => {
            let verdicts: Vec<_> = any.iter().map(|c| reference(c, contact)).collect();
            if verdicts.contains(&Verdict::True) {
                Verdict::True
            } else {
                verdicts.into_iter().find(|v| *v != Verdict::False).unwrap_or(Verdict::False)
            }
        }
        Condition::Not { not } => match reference(not, contact) {
            Verdict::True => Verdict::False,
            Verdict::False => Verdict::True,
            other => other,
        },
        Condition::Compare(c) => {
            let Field::Contact(key) = &c.field else { unreachable!("the generator uses contact fields") };
            let (Some(read), Some(Value::Number(limit))) = (contact.attribute(key.as_str()), &c.value) else {
                return Verdict::Missing;
            };
            let Value::Number(read) = read else { return Verdict::TypeMismatch };
            Verdict::from_bool(match c.op {
                Op::Lt => read < limit,
                Op::Ge => read >= limit,
                Op::Eq => read == limit,
                _ => unreachable!("the generator uses lt, ge and eq"),
            })
        }
    }
}

trait FromBool {
    fn from_bool(b: bool) -> Self;
}

impl FromBool for Verdict {
    fn from_bool(b: bool) -> Self {
        if b { Verdict::True } else { Verdict::False }
    }
}

fn comparison() -> impl Strategy<Value = Condition> {
    (
        prop_oneof![Just("a"), Just("b"), Just("c"), Just("text")],
        prop_oneof![Just(Op::Lt), Just(Op::Ge), Just(Op::Eq)],
        0u8..4,
    )
        .prop_map(|(name, op, n)| {
            Condition::compare(field(&format!("contact.{name}")), op, num(f64::from(n)))
        })
}

fn condition() -> impl Strategy<Value = Condition> {
    comparison().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..4).prop_map(|all| Condition::All { all }),
            prop::collection::vec(inner.clone(), 1..4).prop_map(|any| Condition::Any { any }),
            inner.prop_map(|c| Condition::Not { not: Box::new(c) }),
        ]
    })
}

/// Attributes a, b, c each a number 0..4 or unset; `text` a string.
fn contact() -> impl Strategy<Value = Contact> {
    prop::collection::vec(prop::option::of(0u8..4), 3).prop_map(|values| {
        let mut contact =
            Contact::new("c".parse().unwrap()).with_attribute("text".parse().unwrap(), Value::from("x"));
        for (name, value) in ["a", "b", "c"].into_iter().zip(values) {
            if let Some(n) = value {
                contact = contact.with_attribute(name.parse().unwrap(), num(f64::from(n)));
            }
        }
        contact
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn evaluation_agrees_with_the_reference_and_the_explanation(c in condition(), who in contact()) {
        let compiled = c.compile().unwrap();
        let expected = reference(&c, &who);
        prop_assert_eq!(compiled.evaluate(&who), expected);
        prop_assert_eq!(compiled.explain(&who).verdict, expected);
    }

    #[test]
    fn conditions_round_trip_through_json_and_evaluate_the_same(c in condition(), who in contact()) {
        let json = serde_json::to_string(&c).unwrap();
        let back: Condition = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(&back, &c);
        prop_assert_eq!(back.compile().unwrap().evaluate(&who), c.compile().unwrap().evaluate(&who));
    }
}
