//! The YOLOX family (Ge et al., "YOLOX: Exceeding YOLO Series in 2021", arXiv:2107.08430) as
//! Burn modules in deploy form. One file per block; every block has a `Config` with
//! `init(device)`. Sizes differ only by the multipliers in [`ModelSize::multipliers`].

pub mod base_conv;
pub mod bottleneck;
pub mod csp_layer;
pub mod darknet;
pub mod dw_conv;
pub mod focus;
pub mod head;
pub mod pafpn;
pub mod spp;

use std::fmt;
use std::str::FromStr;

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use darknet::CspDarknetConfig;
use head::{YoloxHead, YoloxHeadConfig};
use pafpn::{YoloPafpn, YoloPafpnConfig};

/// The published YOLOX sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelSize {
    /// YOLOX-Nano (depthwise, 0.91 M parameters, 416 input).
    Nano,
    /// YOLOX-Tiny (416 input).
    Tiny,
    /// YOLOX-S.
    S,
    /// YOLOX-M.
    M,
    /// YOLOX-L.
    L,
    /// YOLOX-X.
    X,
}

/// Per-size multipliers: `(depth, width, depthwise, default input size)`, from YOLOX's `exps/default`.
const SIZE_TABLE: [(ModelSize, f64, f64, bool, usize); 6] = [
    (ModelSize::Nano, 0.33, 0.25, true, 416),
    (ModelSize::Tiny, 0.33, 0.375, false, 416),
    (ModelSize::S, 0.33, 0.50, false, 640),
    (ModelSize::M, 0.67, 0.75, false, 640),
    (ModelSize::L, 1.0, 1.0, false, 640),
    (ModelSize::X, 1.33, 1.25, false, 640),
];

impl ModelSize {
    /// All sizes, smallest first.
    pub const ALL: [ModelSize; 6] = [
        ModelSize::Nano,
        ModelSize::Tiny,
        ModelSize::S,
        ModelSize::M,
        ModelSize::L,
        ModelSize::X,
    ];

    /// `(depth multiplier, width multiplier, depthwise)`.
    pub fn multipliers(self) -> (f64, f64, bool) {
        let row = SIZE_TABLE.iter().find(|row| row.0 == self).copied();
        let (_, depth, width, depthwise, _) = row.unwrap_or(SIZE_TABLE[0]);
        (depth, width, depthwise)
    }

    /// Input size the published weights were trained at.
    pub fn default_input_size(self) -> usize {
        SIZE_TABLE
            .iter()
            .find(|row| row.0 == self)
            .map_or(416, |row| row.4)
    }

    /// Canonical name, as in `yolox_nano`.
    pub fn name(self) -> &'static str {
        match self {
            ModelSize::Nano => "yolox_nano",
            ModelSize::Tiny => "yolox_tiny",
            ModelSize::S => "yolox_s",
            ModelSize::M => "yolox_m",
            ModelSize::L => "yolox_l",
            ModelSize::X => "yolox_x",
        }
    }
}

impl fmt::Display for ModelSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ModelSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let key = s.trim().to_ascii_lowercase();
        let key = key
            .strip_prefix("yolox_")
            .or(key.strip_prefix("yolox-"))
            .unwrap_or(&key);
        ModelSize::ALL
            .into_iter()
            .find(|size| size.name().trim_start_matches("yolox_") == key)
            .ok_or_else(|| {
                format!("unknown YOLOX model '{s}' (expected one of nano, tiny, s, m, l, x)")
            })
    }
}

/// Python's `round` (half to even), which YOLOX uses for depths.
fn py_round(x: f64) -> usize {
    x.round_ties_even().max(0.0) as usize
}

/// Configuration of a whole [`Yolox`] network.
#[derive(Config, Debug)]
pub struct YoloxConfig {
    /// Depth multiplier.
    pub depth: f64,
    /// Width multiplier.
    pub width: f64,
    /// Depthwise-separable convolutions.
    pub depthwise: bool,
    /// Number of classes.
    #[config(default = 80)]
    pub num_classes: usize,
}

impl YoloxConfig {
    /// The configuration of a published size.
    pub fn for_size(size: ModelSize) -> Self {
        let (depth, width, depthwise) = size.multipliers();
        Self::new(depth, width, depthwise)
    }

    /// Channels at base width `c` (YOLOX's `int(c * width)`).
    fn ch(&self, c: usize) -> usize {
        (c as f64 * self.width) as usize
    }

    /// Output channels of the Focus stem, the network's first convolution: distinct for every
    /// published size, so it identifies the size of an export.
    pub fn stem_channels(&self) -> usize {
        self.ch(64)
    }

    /// Builds the network with uninitialised (lazy) parameters; load weights before use.
    pub fn init(&self, device: &Device) -> Yolox {
        let ch = |c: usize| self.ch(c);
        let backbone =
            CspDarknetConfig::new(self.stem_channels(), py_round(self.depth * 3.0).max(1))
                .with_depthwise(self.depthwise);
        let channels = [ch(256), ch(512), ch(1024)];
        Yolox {
            backbone: YoloPafpnConfig::new(backbone, channels, py_round(self.depth * 3.0))
                .with_depthwise(self.depthwise)
                .init(device),
            head: YoloxHeadConfig::new(self.num_classes, channels, ch(256))
                .with_depthwise(self.depthwise)
                .init(device),
        }
    }
}

/// YOLOX: PAFPN (with CSPDarknet) and decoupled head. Field names follow YOLOX's PyTorch
/// module so that error messages name tensors as a checkpoint would.
#[derive(Module, Debug)]
pub struct Yolox {
    /// Backbone and neck (`backbone` in YOLOX, which wraps CSPDarknet as `backbone.backbone`).
    pub backbone: YoloPafpn,
    /// Decoupled head.
    pub head: YoloxHead,
}

impl Yolox {
    /// `[B, 3, H, W]` (BGR, 0..255; `H`, `W` multiples of 32) to raw predictions
    /// `[B, anchors, 5 + classes]` in the layout of the ONNX export.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<3> {
        self.head.forward(self.backbone.forward(images))
    }

    /// Every convolution with its PyTorch module name, in execution order (the order in which
    /// an ONNX export lists them).
    pub fn convs_in_execution_order(&mut self) -> Vec<(String, &mut Conv2d)> {
        let mut visitor = ConvVisitor::default();
        self.backbone.visit_convs("backbone", &mut visitor);
        self.head.visit_convs("head", &mut visitor);
        visitor.convs
    }
}

/// Collects `(name, convolution)` pairs in execution order.
#[derive(Default)]
pub(crate) struct ConvVisitor<'a> {
    convs: Vec<(String, &'a mut Conv2d)>,
}

impl<'a> ConvVisitor<'a> {
    fn push(&mut self, name: String, conv: &'a mut Conv2d) {
        self.convs.push((name, conv));
    }
}
