//! Enums stored and sent as their snake_case names: one macro gives each its list, names,
//! parsing, `Display`, and (with the `sqlx` feature) reading from a catalog text column,
//! where a name this version does not know fails the read.

/// `text_enum!(Name, "what it is" { Variant => "name", … })`
macro_rules! text_enum {
    ($name:ident, $what:literal { $($(#[$doc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        // Ordered as declared (roles rise in power).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$doc])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            pub fn parse(text: &str) -> Option<$name> {
                $name::ALL.iter().copied().find(|v| v.as_str() == text)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        // By hand: the derive does not see a `rename` whose value comes from a macro argument,
        // and documented the variants' Rust names instead of the names sent.
        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($text),+]))
                    .into()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}

        #[cfg(feature = "sqlx")]
        impl sqlx::Type<sqlx::Any> for $name {
            fn type_info() -> sqlx::any::AnyTypeInfo {
                <String as sqlx::Type<sqlx::Any>>::type_info()
            }

            fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
                <String as sqlx::Type<sqlx::Any>>::compatible(ty)
            }
        }

        #[cfg(feature = "sqlx")]
        impl<'r> sqlx::Decode<'r, sqlx::Any> for $name {
            fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                let text = <String as sqlx::Decode<sqlx::Any>>::decode(value)?;
                $name::parse(&text).ok_or_else(|| format!(concat!("unknown ", $what, " {:?}"), text).into())
            }
        }
    };
}

pub(crate) use text_enum;

#[cfg(test)]
mod tests {
    use crate::{AlertType, ApprovalRule, ConflictResolution, Environment, RestorationStatus, RestorationType, ExecutionStatus, JobState, ReplicationStatus, Role, Severity, SourceKind, TargetType, TestStatus};

    /// The name stored in the catalog, the name sent as JSON and the name parsed back are one.
    fn round_trips<T: Copy + PartialEq + std::fmt::Debug + serde::Serialize>(all: &[T], as_str: fn(T) -> &'static str, parse: fn(&str) -> Option<T>) {
        for &v in all {
            assert_eq!(parse(as_str(v)), Some(v));
            assert_eq!(serde_json::to_value(v).unwrap(), as_str(v), "{v:?}");
        }
        assert_eq!(parse("no such name"), None);
    }

    #[test]
    fn every_name_round_trips() {
        round_trips(SourceKind::ALL, SourceKind::as_str, SourceKind::parse);
        round_trips(ExecutionStatus::ALL, ExecutionStatus::as_str, ExecutionStatus::parse);
        round_trips(AlertType::ALL, AlertType::as_str, AlertType::parse);
        round_trips(Severity::ALL, Severity::as_str, Severity::parse);
        round_trips(crate::AlertStatus::ALL, crate::AlertStatus::as_str, crate::AlertStatus::parse);
        round_trips(Role::ALL, Role::as_str, Role::parse);
        round_trips(JobState::ALL, JobState::as_str, JobState::parse);
        round_trips(TestStatus::ALL, TestStatus::as_str, TestStatus::parse);
        round_trips(ReplicationStatus::ALL, ReplicationStatus::as_str, ReplicationStatus::parse);
        round_trips(Environment::ALL, Environment::as_str, Environment::parse);
        round_trips(RestorationType::ALL, RestorationType::as_str, RestorationType::parse);
        round_trips(RestorationStatus::ALL, RestorationStatus::as_str, RestorationStatus::parse);
        round_trips(ApprovalRule::ALL, ApprovalRule::as_str, ApprovalRule::parse);
        round_trips(ConflictResolution::ALL, ConflictResolution::as_str, ConflictResolution::parse);
        round_trips(crate::ChannelKind::ALL, crate::ChannelKind::as_str, crate::ChannelKind::parse);
        round_trips(crate::SmtpSecurity::ALL, crate::SmtpSecurity::as_str, crate::SmtpSecurity::parse);
        round_trips(crate::DeliveryStatus::ALL, crate::DeliveryStatus::as_str, crate::DeliveryStatus::parse);
        round_trips(TargetType::ALL, TargetType::as_str, TargetType::parse);
    }

    /// The OpenAPI document lists the names sent, not the variants' Rust names (an outside
    /// client validating an answer against it refused every stored kind before).
    #[cfg(feature = "openapi")]
    #[test]
    fn every_schema_lists_the_names_sent() {
        fn names<T: utoipa::PartialSchema + serde::Serialize>(all: &[T]) {
            let schema = serde_json::to_value(T::schema()).unwrap();
            let sent: Vec<serde_json::Value> = all.iter().map(|v| serde_json::to_value(v).unwrap()).collect();
            assert_eq!(schema["enum"], serde_json::Value::Array(sent), "{schema}");
        }
        names(SourceKind::ALL);
        names(ExecutionStatus::ALL);
        names(AlertType::ALL);
        names(Severity::ALL);
        names(Role::ALL);
        names(JobState::ALL);
        names(TestStatus::ALL);
        names(ReplicationStatus::ALL);
        names(Environment::ALL);
        names(TargetType::ALL);
    }
}
