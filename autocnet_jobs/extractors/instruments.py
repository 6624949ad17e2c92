"""Instrument constants that a cube's label does not carry, with where each comes from.

ISIS keeps these in its camera classes, not in the NaifKeywords that ``spiceinit`` copies into the label, so a
camera for these instruments needs them from here. Only facts copied from a named source belong here; an
instrument not listed gets no camera when its label lacks a constant (the record says which).
"""
from __future__ import annotations

# Viking Orbiter VIS: focal length (mm) per spacecraft and camera, detector origin (sample, line).
# Source: ISIS isis/src/viking/objs/VikingCamera/VikingCamera.cpp (SetFocalLength, SetDetectorOrigin).
# ISIS also corrects geometric distortion from the image's reseau marks against a master reseau file in the
# ISIS data area, which a label does not hold; without it the model is distortion-free (a few pixels).
VIKING_FOCAL_LENGTH = {
    ("VIKING_ORBITER_1", "VISUAL_IMAGING_SUBSYSTEM_CAMERA_A"): 474.398,
    ("VIKING_ORBITER_1", "VISUAL_IMAGING_SUBSYSTEM_CAMERA_B"): 474.448,
    ("VIKING_ORBITER_2", "VISUAL_IMAGING_SUBSYSTEM_CAMERA_A"): 474.610,
    ("VIKING_ORBITER_2", "VISUAL_IMAGING_SUBSYSTEM_CAMERA_B"): 474.101,
}
VIKING_DETECTOR_ORIGIN = (602.0, 528.0)

# Mars Odyssey THEMIS IR. Source: ISIS isis/src/odyssey/objs/ThemisIrCamera/ThemisIrCamera.cpp and
# ThemisIrDistortionMap.cpp (Duxbury's model with Kirk's April 2009 empirical offsets), per filter 1..10.
THEMIS_IR = {
    "focal_length": 203.9213,            # mm
    "line_rate": 33.2871e-3,             # s per line at SpatialSumming 1
    "boresight_sample": 160.5,
    "boresight_line": 120.5,
    "band_detector_line_tdi": (8.5, 24.5, 50.5, 76.5, 102.5, 128.5, 154.5, 180.5, 205.5, 231.5),
    "band_detector_line_no_tdi": (9, 24, 52, 77, 102, 129, 155, 181, 206, 232),
    "empirical_line_offset": (-0.076, -0.098, -0.089, -0.022, 0.0, -0.020, -0.005, -0.069, 0.025, 0.0),
    "empirical_sample_offset": (0.021, 0.027, 0.005, 0.005, 0.0, -0.007, -0.012, -0.039, -0.045, 0.0),
    "distortion_k": (0.996005, 0.995358, 0.994260, 0.993290, 0.992389,
                     0.991474, 0.990505, 0.989611, 0.988653, 0.9877),
    "distortion_alpha1": 0.00447623,
    "distortion_alpha2": 0.00107556,
}
