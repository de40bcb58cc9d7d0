use super::*;

#[test]
fn shared_parts_make_the_same_point_and_copy_on_write() {
    let tags = SharedTags::new(vec![("b".into(), "2".into()), ("a".into(), "1".into())]).unwrap();
    let m: Arc<str> = Arc::from("log");
    let f = || vec![("message".to_string(), FieldValue::Text("x".into()))];
    let shared = Point::with_shared(&m, &tags, f(), 5, Category::Logging).unwrap();
    let owned = Point::new(
        "log".into(),
        vec![("a".into(), "1".into()), ("b".into(), "2".into())],
        f(),
        5,
        Category::Logging,
    )
    .unwrap();
    assert_eq!(shared, owned);
    let mut p = shared.clone();
    p.add_tag_if_missing("host", "h");
    assert_eq!(p.tag("host"), Some("h"));
    assert_eq!(shared.tag("host"), None, "the shared set is not changed");
    assert!(SharedTags::new(vec![("a".into(), "1".into()), ("a".into(), "2".into())]).is_err());
    assert!(Point::with_shared(&m, &tags, Vec::new(), 5, Category::Logging).is_err());
}

fn p(tags: Vec<(&str, &str)>, fields: Vec<(&str, FieldValue)>) -> Result<Point, PointError> {
    Point::new(
        "m".into(),
        tags.into_iter()
            .map(|(a, b)| (a.into(), b.into()))
            .collect(),
        fields.into_iter().map(|(a, b)| (a.into(), b)).collect(),
        1,
        Category::Metric,
    )
}

#[test]
fn tags_are_sorted_and_looked_up() {
    let pt = p(
        vec![("b", "2"), ("a", "1")],
        vec![("f", FieldValue::Int(1))],
    )
    .unwrap();
    assert_eq!(pt.tags()[0].0, "a");
    assert_eq!(pt.tag("b"), Some("2"));
    assert_eq!(pt.tag("c"), None);
}

#[test]
fn invalid_points_are_refused() {
    assert!(matches!(
        p(vec![], vec![]),
        Err(PointError::NoFields { .. })
    ));
    assert!(matches!(
        p(
            vec![("a", "1"), ("a", "2")],
            vec![("f", FieldValue::Int(1))]
        ),
        Err(PointError::DuplicateKey { what: "tag", .. })
    ));
    assert!(matches!(
        p(vec![], vec![("f", FieldValue::Float(f64::NAN))]),
        Err(PointError::NonFiniteFloat { .. })
    ));
    assert!(matches!(
        p(
            vec![],
            vec![("f", FieldValue::Int(1)), ("f", FieldValue::Int(2))]
        ),
        Err(PointError::DuplicateKey { what: "field", .. })
    ));
}

#[test]
fn duplicate_fields_are_found_among_many() {
    let mut fields: Vec<(String, FieldValue)> = (0..1000)
        .map(|i| (format!("f{i}"), FieldValue::Int(i)))
        .collect();
    let ok = Point::new("m".into(), vec![], fields.clone(), 1, Category::Metric);
    assert!(ok.is_ok());
    fields.push(("f500".into(), FieldValue::Int(0)));
    let e = Point::new("m".into(), vec![], fields, 1, Category::Metric).unwrap_err();
    assert!(matches!(e, PointError::DuplicateKey { what: "field", key, .. } if key == "f500"));
}

#[test]
fn add_tag_keeps_order_and_existing_values() {
    let mut pt = p(
        vec![("a", "1"), ("c", "3")],
        vec![("f", FieldValue::Int(1))],
    )
    .unwrap();
    pt.add_tag_if_missing("b", "2");
    pt.add_tag_if_missing("a", "x");
    let keys: Vec<_> = pt.tags().iter().map(|(k, v)| format!("{k}={v}")).collect();
    assert_eq!(keys, ["a=1", "b=2", "c=3"]);
}

#[test]
fn category_names_round_trip() {
    for c in Category::ALL {
        assert_eq!(c.as_str().parse::<Category>().unwrap(), c);
    }
    assert!("nope".parse::<Category>().is_err());
}
