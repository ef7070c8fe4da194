//! PAFPN neck of YOLOX: a top-down FPN (Lin et al., arXiv:1612.03144) followed by the
//! bottom-up path aggregation of PANet (Liu et al., arXiv:1803.01534), over the backbone's
//! stride 8/16/32 features.

use crate::kernels::upsample_nearest_2x;
use burn::config::Config;
use burn::module::Module;
use burn::nn::interpolate::{Interpolate2d, Interpolate2dConfig, InterpolateMode};
use burn::tensor::{Device, Tensor};

use super::ConvVisitor;
use super::base_conv::{BaseConv, BaseConvConfig};
use super::csp_layer::{CspLayer, CspLayerConfig};
use super::darknet::{CspDarknet, CspDarknetConfig};
use super::dw_conv::MaybeDwConv;

/// Configuration of [`YoloPafpn`].
#[derive(Config, Debug)]
pub struct YoloPafpnConfig {
    /// Backbone configuration.
    pub backbone: CspDarknetConfig,
    /// Channels of the three levels (`int(256/512/1024 * width)`).
    pub channels: [usize; 3],
    /// Depth of the neck's CSP layers (`round(3 * depth)`).
    pub depth: usize,
    /// Depthwise-separable convolutions (Nano).
    #[config(default = false)]
    pub depthwise: bool,
}

/// Backbone plus neck; names follow YOLOX's `YOLOPAFPN` attributes.
#[derive(Module, Debug)]
pub struct YoloPafpn {
    /// CSPDarknet.
    pub backbone: CspDarknet,
    /// Nearest 2x upsampling.
    pub upsample: Interpolate2d,
    /// 1x1 on stride 32 before going up.
    pub lateral_conv0: BaseConv,
    /// CSP at stride 16, top-down.
    pub c3_p4: CspLayer,
    /// 1x1 on stride 16 before going up.
    pub reduce_conv1: BaseConv,
    /// CSP at stride 8 (output level 0).
    pub c3_p3: CspLayer,
    /// Stride-2 conv from 8 to 16.
    pub bu_conv2: MaybeDwConv,
    /// CSP at stride 16, bottom-up (output level 1).
    pub c3_n3: CspLayer,
    /// Stride-2 conv from 16 to 32.
    pub bu_conv1: MaybeDwConv,
    /// CSP at stride 32 (output level 2).
    pub c3_n4: CspLayer,
}

impl YoloPafpnConfig {
    /// Builds backbone and neck.
    pub fn init(&self, device: &Device) -> YoloPafpn {
        let [c0, c1, c2] = self.channels;
        let dw = self.depthwise;
        let csp = |cin: usize, cout: usize| {
            CspLayerConfig::new(cin, cout)
                .with_depth(self.depth)
                .with_shortcut(false)
                .with_depthwise(dw)
                .init(device)
        };
        YoloPafpn {
            backbone: self.backbone.init(device),
            upsample: Interpolate2dConfig::new()
                .with_scale_factor(Some([2.0, 2.0]))
                .with_mode(InterpolateMode::Nearest)
                .init(),
            lateral_conv0: BaseConvConfig::new(c2, c1, 1).init(device),
            c3_p4: csp(2 * c1, c1),
            reduce_conv1: BaseConvConfig::new(c1, c0, 1).init(device),
            c3_p3: csp(2 * c0, c0),
            bu_conv2: MaybeDwConv::init(dw, c0, c0, 3, 2, device),
            c3_n3: csp(2 * c0, c1),
            bu_conv1: MaybeDwConv::init(dw, c1, c1, 3, 2, device),
            c3_n4: csp(2 * c1, c2),
        }
    }
}

impl YoloPafpn {
    /// Returns the three fused feature maps (strides 8, 16, 32).
    pub fn forward(&self, x: Tensor<4>) -> [Tensor<4>; 3] {
        let [x2, x1, x0] = self.backbone.forward(x);

        let fpn_out0 = self.lateral_conv0.forward(x0);
        // Each CSP layer takes its two inputs side by side (YOLOX concatenates them).
        let f_out0 = self.c3_p4.forward_parts(vec![
            upsample_nearest_2x(fpn_out0.clone(), &self.upsample),
            x1,
        ]);

        let fpn_out1 = self.reduce_conv1.forward(f_out0);
        let pan_out2 = self.c3_p3.forward_parts(vec![
            upsample_nearest_2x(fpn_out1.clone(), &self.upsample),
            x2,
        ]);

        let pan_out1 = self
            .c3_n3
            .forward_parts(vec![self.bu_conv2.forward(pan_out2.clone()), fpn_out1]);

        let pan_out0 = self
            .c3_n4
            .forward_parts(vec![self.bu_conv1.forward(pan_out1.clone()), fpn_out0]);

        [pan_out2, pan_out1, pan_out0]
    }

    pub(crate) fn visit_convs<'a>(&'a mut self, name: &str, visitor: &mut ConvVisitor<'a>) {
        self.backbone
            .visit_convs(&format!("{name}.backbone"), visitor);
        self.lateral_conv0
            .visit_convs(&format!("{name}.lateral_conv0"), visitor);
        self.c3_p4.visit_convs(&format!("{name}.C3_p4"), visitor);
        self.reduce_conv1
            .visit_convs(&format!("{name}.reduce_conv1"), visitor);
        self.c3_p3.visit_convs(&format!("{name}.C3_p3"), visitor);
        self.bu_conv2
            .visit_convs(&format!("{name}.bu_conv2"), visitor);
        self.c3_n3.visit_convs(&format!("{name}.C3_n3"), visitor);
        self.bu_conv1
            .visit_convs(&format!("{name}.bu_conv1"), visitor);
        self.c3_n4.visit_convs(&format!("{name}.C3_n4"), visitor);
    }
}
