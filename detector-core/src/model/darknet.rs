//! CSPDarknet backbone of YOLOX: Focus stem, then four stages ("dark2".."dark5"), each a
//! stride-2 convolution and a CSP layer; dark5 adds spatial pyramid pooling.
//! It returns the stride 8, 16 and 32 feature maps (dark3, dark4, dark5).

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::ConvVisitor;
use super::csp_layer::{CspLayer, CspLayerConfig};
use super::dw_conv::MaybeDwConv;
use super::focus::{Focus, FocusConfig};
use super::spp::{SppBottleneck, SppBottleneckConfig};

/// Configuration of [`CspDarknet`].
#[derive(Config, Debug)]
pub struct CspDarknetConfig {
    /// Base channel count (`int(64 * width)`).
    pub base_channels: usize,
    /// Base depth (`max(round(3 * depth), 1)`).
    pub base_depth: usize,
    /// Depthwise-separable convolutions (Nano).
    #[config(default = false)]
    pub depthwise: bool,
}

/// One stage: stride-2 convolution, optional SPP, CSP layer.
#[derive(Module, Debug)]
pub struct DarkStage {
    /// Downsampling convolution.
    pub down: MaybeDwConv,
    /// Spatial pyramid pooling (dark5 only).
    pub spp: Option<SppBottleneck>,
    /// CSP layer.
    pub csp: CspLayer,
}

impl DarkStage {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut x = self.down.forward(x);
        if let Some(spp) = &self.spp {
            x = spp.forward(x);
        }
        self.csp.forward(x)
    }

    /// PyTorch names these `Sequential` children 0, 1 (and 2 when SPP is present).
    fn visit_convs<'a>(&'a mut self, name: &str, visitor: &mut ConvVisitor<'a>) {
        self.down.visit_convs(&format!("{name}.0"), visitor);
        let csp_index = match &mut self.spp {
            Some(spp) => {
                spp.visit_convs(&format!("{name}.1"), visitor);
                2
            }
            None => 1,
        };
        self.csp
            .visit_convs(&format!("{name}.{csp_index}"), visitor);
    }
}

/// The backbone.
#[derive(Module, Debug)]
pub struct CspDarknet {
    /// Focus stem.
    pub stem: Focus,
    /// Stride 4.
    pub dark2: DarkStage,
    /// Stride 8.
    pub dark3: DarkStage,
    /// Stride 16.
    pub dark4: DarkStage,
    /// Stride 32.
    pub dark5: DarkStage,
}

impl CspDarknetConfig {
    /// Builds the backbone.
    pub fn init(&self, device: &Device) -> CspDarknet {
        let c = self.base_channels;
        let d = self.base_depth;
        let dw = self.depthwise;
        let stage = |cin: usize, cout: usize, depth: usize, spp: bool, shortcut: bool| DarkStage {
            down: MaybeDwConv::init(dw, cin, cout, 3, 2, device),
            spp: spp.then(|| SppBottleneckConfig::new(cout, cout).init(device)),
            csp: CspLayerConfig::new(cout, cout)
                .with_depth(depth)
                .with_shortcut(shortcut)
                .with_depthwise(dw)
                .init(device),
        };
        CspDarknet {
            stem: FocusConfig::new(3, c).init(device),
            dark2: stage(c, c * 2, d, false, true),
            dark3: stage(c * 2, c * 4, d * 3, false, true),
            dark4: stage(c * 4, c * 8, d * 3, false, true),
            dark5: stage(c * 8, c * 16, d, true, false),
        }
    }
}

impl CspDarknet {
    /// Returns the (stride 8, stride 16, stride 32) feature maps.
    pub fn forward(&self, x: Tensor<4>) -> [Tensor<4>; 3] {
        let x = self.stem.forward(x);
        let x = self.dark2.forward(x);
        let c3 = self.dark3.forward(x);
        let c4 = self.dark4.forward(c3.clone());
        let c5 = self.dark5.forward(c4.clone());
        [c3, c4, c5]
    }

    pub(crate) fn visit_convs<'a>(&'a mut self, name: &str, visitor: &mut ConvVisitor<'a>) {
        self.stem.visit_convs(&format!("{name}.stem"), visitor);
        self.dark2.visit_convs(&format!("{name}.dark2"), visitor);
        self.dark3.visit_convs(&format!("{name}.dark3"), visitor);
        self.dark4.visit_convs(&format!("{name}.dark4"), visitor);
        self.dark5.visit_convs(&format!("{name}.dark5"), visitor);
    }
}
