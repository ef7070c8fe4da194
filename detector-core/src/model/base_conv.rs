//! `BaseConv` of YOLOX in deploy form: convolution (BatchNorm folded into its bias) + SiLU.
//!
//! YOLOX (Ge et al., "YOLOX: Exceeding YOLO Series in 2021", arXiv:2107.08430) builds every
//! layer from Conv-BN-SiLU. Inference never needs BatchNorm on its own: its affine transform is
//! folded into the convolution's weight and bias when weights are loaded.

use burn::config::Config;
use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::{Device, Tensor};

use super::ConvVisitor;
use crate::kernels::{Activation, conv1x1_cat_bias_act, conv2d_bias_act};

/// Configuration of a [`BaseConv`]: `ksize x ksize` convolution, "same" padding for odd kernels.
#[derive(Config, Debug)]
pub struct BaseConvConfig {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Kernel size (square).
    pub kernel_size: usize,
    /// Stride.
    #[config(default = 1)]
    pub stride: usize,
    /// Channel groups (`in_channels` for a depthwise convolution).
    #[config(default = 1)]
    pub groups: usize,
    /// Apply SiLU after the convolution. Prediction layers of the head have none.
    #[config(default = true)]
    pub activation: bool,
}

/// Convolution with bias followed by SiLU (YOLOX `BaseConv`, BatchNorm folded).
#[derive(Module, Debug)]
pub struct BaseConv {
    /// The convolution, weight `[out, in / groups, k, k]` and bias `[out]`.
    pub conv: Conv2d,
    /// Whether SiLU follows.
    pub activation: bool,
}

impl BaseConvConfig {
    /// Builds the layer with uninitialised parameters, to be filled by the weight loader.
    pub fn init(&self, device: &Device) -> BaseConv {
        let pad = (self.kernel_size - 1) / 2;
        let conv = Conv2dConfig::new(
            [self.in_channels, self.out_channels],
            [self.kernel_size, self.kernel_size],
        )
        .with_stride([self.stride, self.stride])
        .with_groups(self.groups)
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .with_bias(true)
        .init(device);
        BaseConv {
            conv,
            activation: self.activation,
        }
    }
}

impl BaseConv {
    /// `[B, in, H, W] -> [B, out, H / stride, W / stride]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let activation = if self.activation {
            Activation::Silu
        } else {
            Activation::Identity
        };
        conv2d_bias_act(x, &self.conv, activation)
    }

    /// `forward(cat(parts, 1))` for a 1x1 convolution; on the CPU the concatenation is never
    /// built (see [`crate::kernels::conv1x1_cat_bias_act`]).
    pub fn forward_cat(&self, parts: Vec<Tensor<4>>) -> Tensor<4> {
        let activation = if self.activation {
            Activation::Silu
        } else {
            Activation::Identity
        };
        conv1x1_cat_bias_act(parts, &self.conv, activation)
    }

    /// For the prediction layers whose outputs are probabilities (objectness, classes): the
    /// convolution and the sigmoid in one pass instead of two.
    pub fn forward_sigmoid(&self, x: Tensor<4>) -> Tensor<4> {
        conv2d_bias_act(x, &self.conv, Activation::Sigmoid)
    }

    pub(crate) fn visit_convs<'a>(&'a mut self, name: &str, visitor: &mut ConvVisitor<'a>) {
        // YOLOX's BaseConv holds its nn.Conv2d as `.conv`; prediction layers are bare nn.Conv2d.
        let name = if self.activation {
            format!("{name}.conv")
        } else {
            name.to_string()
        };
        visitor.push(name, &mut self.conv);
    }
}
