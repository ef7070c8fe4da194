//! Compute backend selection at run time: Burn's CPU backends (flex, ndarray) or wgpu
//! (Vulkan/Metal/DX12; Debian's lavapipe provides a software Vulkan device for CI).

use std::fmt;
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};

use burn::tensor::Device;
use burn::tensor::wgpu::wgpu;

use crate::error::DetectorError;

/// Which backend to run the network on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendChoice {
    /// The faster correct CPU backend on the measured machine (flex; see the README).
    #[default]
    Cpu,
    /// Burn's flex backend (pure Rust).
    Flex,
    /// Burn's ndarray backend (deprecated upstream).
    Ndarray,
    /// wgpu on the default adapter, whatever its type (a software adapter included).
    Wgpu,
    /// wgpu when a hardware GPU adapter exists, otherwise the CPU backend (with a logged reason).
    Auto,
}

impl FromStr for BackendChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "cpu" => Ok(Self::Cpu),
            "flex" => Ok(Self::Flex),
            "ndarray" => Ok(Self::Ndarray),
            "wgpu" | "gpu" => Ok(Self::Wgpu),
            "auto" => Ok(Self::Auto),
            other => Err(format!(
                "unknown backend '{other}' (expected cpu, wgpu, auto, flex or ndarray)"
            )),
        }
    }
}

impl fmt::Display for BackendChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Cpu => "cpu",
            Self::Flex => "flex",
            Self::Ndarray => "ndarray",
            Self::Wgpu => "wgpu",
            Self::Auto => "auto",
        })
    }
}

/// A started backend.
#[derive(Clone)]
pub struct SelectedBackend {
    /// Burn device.
    pub device: Device,
    /// Human-readable description, e.g. `flex` or `wgpu (NVIDIA H200, Vulkan)`.
    pub description: String,
    /// Whether this is a wgpu device.
    pub is_wgpu: bool,
}

impl fmt::Debug for SelectedBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.description)
    }
}

/// Every adapter wgpu can see.
fn adapters() -> Vec<wgpu::AdapterInfo> {
    let instance = wgpu::Instance::default();
    pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()))
        .iter()
        .map(|adapter| adapter.get_info())
        .collect()
}

/// A real GPU, not a software adapter such as lavapipe.
fn is_hardware(info: &wgpu::AdapterInfo) -> bool {
    matches!(
        info.device_type,
        wgpu::DeviceType::DiscreteGpu
            | wgpu::DeviceType::IntegratedGpu
            | wgpu::DeviceType::VirtualGpu
    )
}

fn cpu() -> SelectedBackend {
    SelectedBackend {
        device: Device::flex(),
        description: "flex".into(),
        is_wgpu: false,
    }
}

fn start_wgpu(describe: &wgpu::AdapterInfo) -> Result<SelectedBackend, DetectorError> {
    // Burn registers one wgpu runtime per process and refuses a second ("Service already
    // initialized"), also when two detectors start at the same moment: every detector of a
    // process shares the first device started. A failed start is not kept, so a later one may
    // try again.
    static STARTED: Mutex<Option<Device>> = Mutex::new(None);
    let mut started = STARTED.lock().unwrap_or_else(PoisonError::into_inner);
    let device = match started.as_ref() {
        Some(device) => device.clone(),
        None => {
            let device = Device::wgpu_options()
                .init()
                .map_err(|e| DetectorError::Backend {
                    backend: "wgpu".into(),
                    reason: e.to_string(),
                })?;
            *started = Some(device.clone());
            device
        }
    };
    Ok(SelectedBackend {
        device,
        description: format!("wgpu ({}, {:?})", describe.name, describe.backend),
        is_wgpu: true,
    })
}

/// Starts the requested backend.
pub fn select_backend(choice: BackendChoice) -> Result<SelectedBackend, DetectorError> {
    match choice {
        BackendChoice::Cpu | BackendChoice::Flex => Ok(cpu()),
        #[allow(deprecated)] // ndarray stays selectable for comparison; flex is the default
        BackendChoice::Ndarray => Ok(SelectedBackend {
            device: Device::ndarray(),
            description: "ndarray".into(),
            is_wgpu: false,
        }),
        BackendChoice::Wgpu => {
            let adapters = adapters();
            let preferred = adapters.iter().find(|info| is_hardware(info)).cloned();
            match preferred.or_else(|| adapters.into_iter().next()) {
                Some(info) => start_wgpu(&info),
                None => Err(DetectorError::Backend {
                    backend: "wgpu".into(),
                    reason: "no wgpu adapter found (no GPU driver; on Debian `apt-get install mesa-vulkan-drivers` gives a software one)".into(),
                }),
            }
        }
        BackendChoice::Auto => match adapters().into_iter().find(is_hardware) {
            Some(info) => match start_wgpu(&info) {
                Ok(backend) => Ok(backend),
                Err(e) => {
                    tracing::warn!(reason = %e, "GPU found but wgpu failed to start; using the CPU backend");
                    Ok(cpu())
                }
            },
            None => {
                tracing::warn!(
                    reason = "no hardware GPU adapter found by wgpu",
                    "backend auto: using the CPU backend"
                );
                Ok(cpu())
            }
        },
    }
}
