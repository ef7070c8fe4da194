//! Decoupled head of YOLOX (paper, section 2.1 "Decoupled head"): per level a 1x1 stem, then
//! separate classification and regression branches of two 3x3 convolutions each; the
//! regression branch also predicts objectness. Anchor-free: one prediction per grid cell.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};
use rayon::prelude::*;

use super::ConvVisitor;
use super::base_conv::{BaseConv, BaseConvConfig};
use super::dw_conv::MaybeDwConv;
use crate::kernels::{head_rows, join, on_cpu_pool_device};

/// Configuration of [`YoloxHead`].
#[derive(Config, Debug)]
pub struct YoloxHeadConfig {
    /// Number of classes (80 for COCO).
    pub num_classes: usize,
    /// Input channels of the three levels.
    pub in_channels: [usize; 3],
    /// Hidden width (`int(256 * width)`).
    pub hidden: usize,
    /// Depthwise-separable 3x3 convolutions (Nano).
    #[config(default = false)]
    pub depthwise: bool,
}

/// Head of one pyramid level.
#[derive(Module, Debug)]
pub struct HeadLevel {
    /// 1x1 stem.
    pub stem: BaseConv,
    /// Classification branch.
    pub cls_convs: Vec<MaybeDwConv>,
    /// Regression branch.
    pub reg_convs: Vec<MaybeDwConv>,
    /// Class logits.
    pub cls_pred: BaseConv,
    /// Box offsets `(dx, dy, log w, log h)`.
    pub reg_pred: BaseConv,
    /// Objectness logit.
    pub obj_pred: BaseConv,
}

impl HeadLevel {
    /// `[B, H * W, 5 + classes]`: box, objectness and class outputs, one row per cell.
    fn forward(&self, x: Tensor<4>, on_cpu: bool) -> Tensor<3> {
        let x = self.stem.forward(x);
        // The two branches are independent: side by side on the CPU pool.
        let (cls, (reg, obj)) = join(
            on_cpu,
            || {
                let feat = self.cls_convs.iter().fold(x.clone(), |t, c| c.forward(t));
                self.cls_pred.forward_sigmoid(feat)
            },
            || {
                let feat = self.reg_convs.iter().fold(x.clone(), |t, c| c.forward(t));
                (
                    self.reg_pred.forward(feat.clone()),
                    self.obj_pred.forward_sigmoid(feat),
                )
            },
        );
        head_rows(reg, obj, cls)
    }
}

/// The head over all levels.
#[derive(Module, Debug)]
pub struct YoloxHead {
    /// Levels for strides 8, 16, 32.
    pub levels: Vec<HeadLevel>,
}

impl YoloxHeadConfig {
    /// Builds the head.
    pub fn init(&self, device: &Device) -> YoloxHead {
        let h = self.hidden;
        let branch = || {
            (0..2)
                .map(|_| MaybeDwConv::init(self.depthwise, h, h, 3, 1, device))
                .collect::<Vec<_>>()
        };
        let pred = |out: usize| {
            BaseConvConfig::new(h, out, 1)
                .with_activation(false)
                .init(device)
        };
        YoloxHead {
            levels: self
                .in_channels
                .iter()
                .map(|&cin| HeadLevel {
                    stem: BaseConvConfig::new(cin, h, 1).init(device),
                    cls_convs: branch(),
                    reg_convs: branch(),
                    cls_pred: pred(self.num_classes),
                    reg_pred: pred(4),
                    obj_pred: pred(1),
                })
                .collect(),
        }
    }
}

impl YoloxHead {
    /// Raw predictions `[B, anchors, 5 + classes]`: `(dx, dy, log w, log h, obj, cls...)` with
    /// sigmoid applied to objectness and classes, levels concatenated in stride order and cells
    /// row-major, exactly the layout of YOLOX's ONNX export.
    pub fn forward(&self, features: [Tensor<4>; 3]) -> Tensor<3> {
        let on_cpu = on_cpu_pool_device(&features[0]);
        let run = |(level, x): (&HeadLevel, Tensor<4>)| level.forward(x, on_cpu);
        // The levels are independent: side by side on the CPU pool (order is kept).
        let outputs: Vec<Tensor<3>> = if on_cpu {
            self.levels.par_iter().zip(features).map(run).collect()
        } else {
            self.levels.iter().zip(features).map(run).collect()
        };
        Tensor::cat(outputs, 1)
    }

    /// Export order per level: stem, class branch, class prediction, regression branch,
    /// box prediction, objectness prediction.
    pub(crate) fn visit_convs<'a>(&'a mut self, name: &str, visitor: &mut ConvVisitor<'a>) {
        for (k, level) in self.levels.iter_mut().enumerate() {
            level
                .stem
                .visit_convs(&format!("{name}.stems.{k}"), visitor);
            for (i, c) in level.cls_convs.iter_mut().enumerate() {
                c.visit_convs(&format!("{name}.cls_convs.{k}.{i}"), visitor);
            }
            level
                .cls_pred
                .visit_convs(&format!("{name}.cls_preds.{k}"), visitor);
            for (i, c) in level.reg_convs.iter_mut().enumerate() {
                c.visit_convs(&format!("{name}.reg_convs.{k}.{i}"), visitor);
            }
            level
                .reg_pred
                .visit_convs(&format!("{name}.reg_preds.{k}"), visitor);
            level
                .obj_pred
                .visit_convs(&format!("{name}.obj_preds.{k}"), visitor);
        }
    }
}
