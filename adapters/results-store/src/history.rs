//! Reading results back by time (the web server's overview, charts, API and pictures). Every
//! query is a range or a point on the `result_user_taken (user_id, taken_at)` index or on the
//! primary key, so a year of hourly results per user stays fast.

use chrono::{DateTime, SubsecRound, TimeZone, Utc};

use crate::{Pool, Result, ResultRecord, ResultRow, Store};

/// `query_as` over a user's time range `[from, to)` (then any further binds), fetching all rows.
/// sqlx sends a `DateTime<Utc>` to MySQL as a TIMESTAMP, which only holds 1970 to 2038 (a bound
/// outside it matches nothing), so MySQL gets the same instant as a DATETIME (`NaiveDateTime`);
/// SQLite compares the text sqlx writes for `DateTime<Utc>`, so it gets that.
macro_rules! fetch_range {
    ($store:expr, $row:ty, $sql:expr, $user:expr, $from:expr, $to:expr $(, $extra:expr)*) => {
        match &$store.pool {
            Pool::Sqlite(pool) => sqlx::query_as::<_, $row>($sql)
                .bind($user)
                .bind($from)
                .bind($to)
                $(.bind($extra))*
                .fetch_all(pool)
                .await,
            Pool::MySql(pool) => sqlx::query_as::<_, $row>($sql)
                .bind($user)
                .bind($from.naive_utc())
                .bind($to.naive_utc())
                $(.bind($extra))*
                .fetch_all(pool)
                .await,
        }
    };
}

/// Earliest and latest times a range may name: both databases' `DATETIME` hold them.
fn bounds(
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let earliest = Utc.with_ymd_and_hms(1900, 1, 1, 0, 0, 0).unwrap();
    let latest = Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap();
    (
        from.map_or(earliest, |t| t.trunc_subsecs(0)).max(earliest),
        to.map_or(latest, |t| t.trunc_subsecs(0)).min(latest),
    )
}

impl Store {
    /// A user's results taken in `[from, to)` (unbounded where `None`), oldest first. With a
    /// `limit`, the newest `limit` results of the range (still oldest first).
    pub async fn results_between(
        &self,
        user_id: &str,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        limit: Option<u32>,
    ) -> Result<Vec<ResultRecord>> {
        let (from, to) = bounds(from, to);
        let rows = match limit {
            None => {
                let sql = concat!(
                    "SELECT ",
                    result_columns!(),
                    " FROM result WHERE user_id = ? AND taken_at >= ? AND taken_at < ?",
                    " ORDER BY taken_at, run_id"
                );
                fetch_range!(self, ResultRow, sql, user_id, from, to)?
            }
            Some(limit) => {
                let sql = concat!(
                    "SELECT ",
                    result_columns!(),
                    " FROM result WHERE user_id = ? AND taken_at >= ? AND taken_at < ?",
                    " ORDER BY taken_at DESC, run_id DESC LIMIT ?"
                );
                let mut rows =
                    fetch_range!(self, ResultRow, sql, user_id, from, to, i64::from(limit))?;
                rows.reverse();
                rows
            }
        };
        rows.into_iter().map(ResultRecord::try_from).collect()
    }

    /// The time and count (`None`: no data) of a user's results in `[from, to)`, oldest first:
    /// what a chart needs, without decoding whole records (a year of hourly runs is 8,760).
    pub async fn counts_between(
        &self,
        user_id: &str,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Vec<(DateTime<Utc>, Option<u32>)>> {
        let (from, to) = bounds(from, to);
        let sql = "SELECT taken_at, people_count FROM result \
                   WHERE user_id = ? AND taken_at >= ? AND taken_at < ? ORDER BY taken_at";
        let rows = fetch_range!(self, (DateTime<Utc>, Option<i64>), sql, user_id, from, to)?;
        rows.into_iter()
            .map(|(t, n)| {
                let n = n
                    .map(|n| crate::column("people_count", u32::try_from(n)))
                    .transpose()?;
                Ok((t, n))
            })
            .collect()
    }

    /// A user's newest result, if any.
    pub async fn latest_result(&self, user_id: &str) -> Result<Option<ResultRecord>> {
        let sql = concat!(
            "SELECT ",
            result_columns!(),
            " FROM result WHERE user_id = ? ORDER BY taken_at DESC LIMIT 1"
        );
        let row = on_pool!(self, pool => sqlx::query_as::<_, ResultRow>(sql)
            .bind(user_id)
            .fetch_optional(pool)
            .await)?;
        row.map(ResultRecord::try_from).transpose()
    }

    /// A user's newest result that kept a picture (`image_ref` set), if any.
    pub async fn latest_picture(&self, user_id: &str) -> Result<Option<ResultRecord>> {
        let sql = concat!(
            "SELECT ",
            result_columns!(),
            " FROM result WHERE user_id = ? AND image_ref IS NOT NULL",
            " ORDER BY taken_at DESC LIMIT 1"
        );
        let row = on_pool!(self, pool => sqlx::query_as::<_, ResultRow>(sql)
            .bind(user_id)
            .fetch_optional(pool)
            .await)?;
        row.map(ResultRecord::try_from).transpose()
    }

    /// One result by its key.
    pub async fn result_of_run(&self, user_id: &str, run_id: &str) -> Result<Option<ResultRecord>> {
        let sql = concat!(
            "SELECT ",
            result_columns!(),
            " FROM result WHERE run_id = ? AND user_id = ?"
        );
        let row = on_pool!(self, pool => sqlx::query_as::<_, ResultRow>(sql)
            .bind(run_id)
            .bind(user_id)
            .fetch_optional(pool)
            .await)?;
        row.map(ResultRecord::try_from).transpose()
    }
}
