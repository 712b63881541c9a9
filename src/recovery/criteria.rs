//! A step's success criteria, evaluated on its output: each names a field by dotted path
//! (`rows`, `records.0.ttl`) and what it must be. The results are kept with the attempt, so a
//! person sees which check failed and on what value.

use bulwark_types::Criterion;
use serde_json::{Value, json};

/// Every criterion's result (`{field, expected, actual, passed}`) and whether all passed.
pub fn evaluate(criteria: &[Criterion], output: &Value) -> (Value, bool) {
    let mut all = true;
    let results: Vec<Value> = criteria
        .iter()
        .map(|c| {
            let actual = lookup(output, &c.field);
            let (expected, passed) = judge(c, actual);
            all &= passed;
            json!({ "field": c.field, "expected": expected, "actual": actual.cloned(), "passed": passed })
        })
        .collect();
    (Value::Array(results), all)
}

/// The value at a dotted path: object keys, or array indexes.
fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(value, |v, part| match v {
        Value::Object(map) => map.get(part),
        Value::Array(items) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

fn judge(c: &Criterion, actual: Option<&Value>) -> (String, bool) {
    let number = actual.and_then(Value::as_f64);
    if let Some(expected) = &c.equals {
        return (format!("equals {expected}"), actual == Some(expected) || loosely_equal(actual, expected));
    }
    if let Some(min) = c.at_least {
        return (format!("at least {min}"), number.is_some_and(|n| n >= min));
    }
    if let Some(max) = c.at_most {
        return (format!("at most {max}"), number.is_some_and(|n| n <= max));
    }
    if let Some(part) = &c.contains {
        let text = match actual {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        };
        return (format!("contains {part:?}"), actual.is_some() && text.contains(part.as_str()));
    }
    ("nothing".into(), false)
}

/// `200` written in a document equals the output's `200.0`, and `"3"` a `3` read from SQL text.
fn loosely_equal(actual: Option<&Value>, expected: &Value) -> bool {
    match (actual, expected) {
        (Some(a), e) if a.is_number() && e.is_number() => a.as_f64() == e.as_f64(),
        (Some(Value::String(a)), e) if e.is_number() || e.is_boolean() => *a == e.to_string(),
        (Some(a), Value::String(e)) if a.is_number() || a.is_boolean() => a.to_string() == *e,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn criterion(text: &str) -> Criterion {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn each_criterion_is_judged_on_the_field_it_names() {
        let output = json!({ "status": 200, "rows": [{ "count": "42" }], "body": "ok: primary" });
        let criteria = [
            criterion(r#"{"field": "status", "equals": 200}"#),
            criterion(r#"{"field": "rows.0.count", "equals": 42}"#),
            criterion(r#"{"field": "status", "atMost": 299}"#),
            criterion(r#"{"field": "body", "contains": "primary"}"#),
        ];
        let (results, passed) = evaluate(&criteria, &output);
        assert!(passed, "{results}");
        let (results, passed) = evaluate(&[criterion(r#"{"field": "rows.0.missing", "atLeast": 1}"#)], &output);
        assert!(!passed);
        assert_eq!(results[0]["actual"], Value::Null);
    }
}
