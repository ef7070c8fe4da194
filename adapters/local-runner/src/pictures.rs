//! Annotated pictures in the data folder: `images/{user_id}/{run_id}.jpg`, written through a
//! temporary file and a rename so readers never see half a picture.

use std::path::{Path, PathBuf};

use footfall_domain::sinks::{BoxFuture, PictureStore, SinkError};
use footfall_domain::{RunId, UserId};

/// Writes `bytes` to `path` (creating its folder) through a temporary file and a rename, so
/// readers see the whole old file or the whole new one, never half.
pub fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".part");
    std::fs::write(&temporary, bytes)?;
    std::fs::rename(&temporary, path)
}

/// The picture folder of a data folder as the job's [`PictureStore`]. The reference stored with
/// the result is the path relative to the data folder.
#[derive(Debug, Clone)]
pub struct PictureFiles {
    pub data_dir: PathBuf,
}

impl PictureStore for PictureFiles {
    fn save<'a>(
        &'a self,
        user_id: &'a UserId,
        run_id: &'a RunId,
        jpeg: &'a [u8],
    ) -> BoxFuture<'a, Result<String, SinkError>> {
        Box::pin(async move {
            let relative = Path::new("images")
                .join(user_id.as_str())
                .join(format!("{run_id}.jpg"));
            let path = self.data_dir.join(&relative);
            let bytes = jpeg.to_vec();
            let target = path.clone();
            tokio::task::spawn_blocking(move || write_whole(&target, &bytes))
                .await
                .map_err(|e| SinkError::permanent("picture", e.to_string()))?
                .map_err(|e| SinkError::permanent("picture", format!("{}: {e}", path.display())))?;
            Ok(relative.display().to_string())
        })
    }
}
