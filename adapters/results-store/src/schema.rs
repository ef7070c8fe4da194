//! The schema's version: explicit migrations for MySQL ([`Store::migrate`]) and the check a
//! MySQL connection makes instead of migrating, since the application's login there has no DDL
//! rights (issue 11). SQLite files are single-user and migrate on open.

use std::collections::HashMap;
use std::time::Duration;

use sqlx::migrate::Migration;

use crate::{MIGRATOR, Pool, Result, Store, StoreError};

/// A migration an explicit [`Store::migrate`] applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedMigration {
    pub version: i64,
    pub description: String,
}

/// What [`Store::migrate`] did: the migrations it applied (none when the schema was up to
/// date) and the schema's version afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    pub applied: Vec<AppliedMigration>,
    pub version: i64,
}

/// A row of `_sqlx_migrations`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
struct AppliedRow {
    version: i64,
    success: bool,
    checksum: Vec<u8>,
}

/// How the database's schema compares with this build's migrations.
#[derive(Debug, PartialEq, Eq)]
enum SchemaCheck {
    /// Every migration of this build is applied; `newer` lists versions this build does not know.
    Current { newer: Vec<i64> },
    /// Migrations are missing: `footfall db migrate` fixes it.
    Behind {
        found: Option<i64>,
        needed: i64,
        missing: Vec<String>,
    },
    /// An applied migration differs from this build's, or failed part-way: migrating again
    /// cannot fix it (sqlx refuses), a person must look.
    Mismatch { version: i64, problem: String },
}

fn up_migrations() -> impl Iterator<Item = &'static Migration> {
    MIGRATOR
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
}

/// Compares `_sqlx_migrations` (`None`: no such table) with `migrations`.
fn compare<'a>(
    applied: Option<&[AppliedRow]>,
    migrations: impl IntoIterator<Item = &'a Migration>,
) -> SchemaCheck {
    let migrations: Vec<&Migration> = migrations.into_iter().collect();
    let rows: HashMap<i64, &AppliedRow> = applied
        .unwrap_or_default()
        .iter()
        .map(|row| (row.version, row))
        .collect();
    let needed = migrations.iter().map(|m| m.version).max().unwrap_or(0);
    let found = rows.keys().copied().max();
    if let Some(dirty) = rows
        .values()
        .filter(|row| !row.success)
        .map(|r| r.version)
        .min()
    {
        return SchemaCheck::Mismatch {
            version: dirty,
            problem: "failed part-way (success = 0 in _sqlx_migrations)".to_string(),
        };
    }
    let mut missing = Vec::new();
    for migration in &migrations {
        match rows.get(&migration.version) {
            Some(row) if row.checksum != *migration.checksum => {
                return SchemaCheck::Mismatch {
                    version: migration.version,
                    problem: format!(
                        "`{}` was applied with different SQL than this build's (checksum differs)",
                        migration.description
                    ),
                };
            }
            Some(_) => {}
            None => missing.push(format!("{} {}", migration.version, migration.description)),
        }
    }
    if !missing.is_empty() {
        return SchemaCheck::Behind {
            found,
            needed,
            missing,
        };
    }
    let mut newer: Vec<i64> = rows
        .keys()
        .copied()
        .filter(|v| !migrations.iter().any(|m| m.version == *v))
        .collect();
    newer.sort_unstable();
    SchemaCheck::Current { newer }
}

impl Store {
    /// Connects with an admin login (one that may CREATE, ALTER, DROP and INDEX) and applies
    /// this build's migrations that the database lacks, under sqlx's lock, so two deploys
    /// migrating at once apply each migration once. The MySQL application login cannot do this:
    /// `footfall db migrate --db URL` runs it as a separate, explicit step.
    ///
    /// Refuses (`StoreError::Migrate`) a database with migrations this build does not know, or
    /// whose applied migrations differ from this build's: an older build must not migrate a
    /// newer schema.
    pub async fn migrate(url: &str) -> Result<MigrationReport> {
        Self::migrate_with_timeout(url, Duration::from_secs(10)).await
    }

    /// Like [`Store::migrate`], giving up on an unreachable server after `timeout`.
    pub async fn migrate_with_timeout(url: &str, timeout: Duration) -> Result<MigrationReport> {
        let store = Self::open(url, timeout).await?;
        let report = store.apply_migrations().await;
        store.close().await;
        report
    }

    /// Runs the migrator and reports the versions that are applied now and were not before.
    async fn apply_migrations(&self) -> Result<MigrationReport> {
        let before = self.applied_rows().await?.unwrap_or_default();
        self.run_migrator().await?;
        let after = self.applied_rows().await?.unwrap_or_default();
        let applied = up_migrations()
            .filter(|m| {
                after.iter().any(|row| row.version == m.version)
                    && !before.iter().any(|row| row.version == m.version)
            })
            .map(|m| AppliedMigration {
                version: m.version,
                description: m.description.to_string(),
            })
            .collect();
        Ok(MigrationReport {
            applied,
            version: after.iter().map(|row| row.version).max().unwrap_or(0),
        })
    }

    /// Applies what is missing.
    pub(crate) async fn run_migrator(&self) -> Result<()> {
        // On MySQL a failed run leaves sqlx's GET_LOCK with its pooled connection: harmless, as
        // only `migrate_with_timeout` migrates MySQL and closes the pool right after (SQLite
        // takes no lock).
        on_pool!(self, pool => MIGRATOR.run(pool).await).map_err(|source| StoreError::Migrate {
            hint: migrate_hint(&source),
            source,
        })
    }

    /// Checks that the schema has every migration of this build, without changing anything.
    ///
    /// A database AHEAD of this build (versions it does not know) is accepted with a warning:
    /// during a rolling deploy the new release migrates first while tasks and Lambdas of the
    /// previous one still run, and refusing them would turn every migration into an outage.
    /// That only holds because migrations here are additive (new tables, new columns with
    /// defaults): one that drops or renames what the previous release reads must wait a release.
    pub(crate) async fn check_schema(&self) -> Result<()> {
        let applied = self.applied_rows().await?;
        match compare(applied.as_deref(), up_migrations()) {
            SchemaCheck::Current { newer } => {
                if !newer.is_empty() {
                    tracing::warn!(
                        ?newer,
                        "the database schema has migrations this build does not know (a newer \
                         release migrated it); carrying on, as migrations are additive"
                    );
                }
                Ok(())
            }
            SchemaCheck::Behind {
                found,
                needed,
                missing,
            } => Err(StoreError::SchemaBehind {
                found,
                needed,
                missing: missing.join(", "),
            }),
            SchemaCheck::Mismatch { version, problem } => {
                Err(StoreError::SchemaMismatch { version, problem })
            }
        }
    }

    /// The rows of `_sqlx_migrations`, or `None` when the table does not exist (a database
    /// never migrated).
    async fn applied_rows(&self) -> Result<Option<Vec<AppliedRow>>> {
        let exists = match &self.pool {
            Pool::Sqlite(pool) => {
                sqlx::query_scalar::<_, i64>(
                    "SELECT COUNT(*) FROM sqlite_master \
                     WHERE type = 'table' AND name = '_sqlx_migrations'",
                )
                .fetch_one(pool)
                .await?
            }
            Pool::MySql(pool) => {
                sqlx::query_scalar::<_, i64>(
                    "SELECT COUNT(*) FROM information_schema.tables \
                     WHERE table_schema = DATABASE() AND table_name = '_sqlx_migrations'",
                )
                .fetch_one(pool)
                .await?
            }
        };
        if exists == 0 {
            return Ok(None);
        }
        let sql = "SELECT version, success, checksum FROM _sqlx_migrations ORDER BY version";
        Ok(Some(
            on_pool!(self, pool => sqlx::query_as::<_, AppliedRow>(sql)
            .fetch_all(pool)
            .await)?,
        ))
    }
}

/// A hint for the usual cause: the application's login, which has no DDL rights.
fn migrate_hint(error: &sqlx::migrate::MigrateError) -> &'static str {
    use sqlx::migrate::MigrateError;
    let database = match error {
        MigrateError::Execute(e) | MigrateError::ExecuteMigration(e, _) => e.as_database_error(),
        _ => None,
    };
    // MySQL/MariaDB: 1142 command denied on a table, 1044 access denied to a database.
    let denied = database
        .and_then(|e| e.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>())
        .is_some_and(|e| matches!(e.number(), 1142 | 1044 | 1045));
    if denied {
        " (migrations need an admin login with CREATE, ALTER, DROP and INDEX rights on the \
         database; the application's login has only SELECT, INSERT, UPDATE and DELETE)"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn migrations() -> Vec<Migration> {
        MIGRATOR.iter().cloned().collect()
    }

    fn rows(migrations: &[Migration]) -> Vec<AppliedRow> {
        migrations
            .iter()
            .map(|m| AppliedRow {
                version: m.version,
                success: true,
                checksum: m.checksum.to_vec(),
            })
            .collect()
    }

    #[test]
    fn a_database_never_migrated_is_behind_from_none() {
        let all = migrations();
        let check = compare(None, all.iter());
        let SchemaCheck::Behind {
            found,
            needed,
            missing,
        } = check
        else {
            panic!("{check:?}")
        };
        assert_eq!((found, needed), (None, all.last().unwrap().version));
        assert_eq!(missing.len(), all.len());
    }

    #[test]
    fn a_missing_version_is_behind_and_named() {
        let all = migrations();
        let applied = rows(&all[..all.len() - 1]);
        let check = compare(Some(&applied), all.iter());
        let last = all.last().unwrap();
        assert_eq!(
            check,
            SchemaCheck::Behind {
                found: Some(all[all.len() - 2].version),
                needed: last.version,
                missing: vec![format!("{} {}", last.version, last.description)],
            }
        );
    }

    #[test]
    fn a_changed_checksum_or_a_failed_migration_is_a_mismatch() {
        let all = migrations();
        let mut applied = rows(&all);
        applied[0].checksum = vec![0; 48];
        assert!(matches!(
            compare(Some(&applied), all.iter()),
            SchemaCheck::Mismatch { version, .. } if version == all[0].version
        ));
        let mut applied = rows(&all);
        applied[1].success = false;
        assert!(matches!(
            compare(Some(&applied), all.iter()),
            SchemaCheck::Mismatch { version, ref problem } if version == all[1].version
                && problem.contains("part-way")
        ));
    }

    #[test]
    fn a_database_ahead_of_this_build_is_current_with_the_newer_versions() {
        let all = migrations();
        let mut applied = rows(&all);
        applied.push(AppliedRow {
            version: 99_990_101_000_001,
            success: true,
            checksum: vec![1; 48],
        });
        assert_eq!(
            compare(Some(&applied), all.iter()),
            SchemaCheck::Current {
                newer: vec![99_990_101_000_001]
            }
        );
        assert_eq!(
            compare(Some(&rows(&all)), all.iter()),
            SchemaCheck::Current { newer: vec![] }
        );
    }
}
