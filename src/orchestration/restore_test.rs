//! Running a queued restore test: the backup restored into a scratch target by its source
//! kind (or read back whole, for an integrity test), timed, and recorded by
//! `crate::restore_tests`.

use std::time::Instant;

use crate::platform::auth::Principal;
use crate::platform::catalog::Catalog;
use crate::platform::secrets::SecretBox;
use crate::restore_tests::{self, BackupTest, TestingError};
use crate::sources::{self, TestRun};

pub async fn run(catalog: &Catalog, secrets: &SecretBox, test_id: &str) -> Result<BackupTest, TestingError> {
    let started = restore_tests::start(catalog, test_id).await?;
    let actor = Principal::system("restore test");
    let clock = Instant::now();
    let outcome = if started.test.test_type == "integrity" {
        restore_tests::read_back(catalog, secrets, &started.execution).await
    } else {
        let run = TestRun { catalog, secrets, actor: &actor, configuration: &started.configuration, execution: &started.execution, test_id };
        sources::of(&started.configuration).restore_test(&run).await
    };
    restore_tests::finish(catalog, &started, outcome, clock.elapsed().as_secs_f64()).await
}
