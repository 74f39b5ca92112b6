"""The embedded datasets: synthetic images ``prepare`` renders and writes in the public formats.

Nothing can be downloaded at run time, so small stand-ins are rendered, on disk in exactly
the real datasets' layouts, and the pipeline reads them with the loaders it runs on the real
data. Every image is a pure function of ``(seed, scope, key)`` (:mod:`.seeding`).

- ``segmentation``: VOC 2012, SBD and COCO instances (20 VOC classes)
- ``street``: CamVid (SegNet version) and Cityscapes (fine labelIds)
- ``pose``: COCO keypoints and MPII (HRNet JSON + gt_valid.mat)
- ``depth``: NYU Depth v2 (labelled .mat, splits.mat, raw RGB / depth pairs)
"""
