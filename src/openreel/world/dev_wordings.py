"""Development wordings: unseen prompt vocabularies for tuning things that read prompts.

DEV_*, DEV2_* and DEV3_* are kept out of the training captions (TRAIN_* in captions.py) and
apart from the evaluator's paraphrase wording (PARAPHRASE_* there), so that tuning on them
leaves the paraphrase set a test nobody tuned on. captions.py re-exports every name here.
"""

from __future__ import annotations

# A second unseen wording, for *developing* things that read prompts (a prompt rewriter, new
# training captions), so that the paraphrase set (PARAPHRASE_*) stays a test nobody tuned on.
# Its words are in neither the training captions nor the paraphrase wording; a test checks.
DEV_SHAPE_WORDS = {
    "circle": ["globe", "marble", "round bead"],
    "square": ["brick", "square slab", "four-sided shape"],
    "triangle": ["delta shape", "three-cornered shape", "trigon"],
}
DEV_COLOR_WORDS = {
    "red": ["blood red", "fire red"], "orange": ["carrot orange", "marigold"],
    "yellow": ["mustard yellow", "banana yellow"], "green": ["forest green", "mint green"],
    "cyan": ["cerulean", "aqua-colored"], "blue": ["azure", "cornflower blue"],
    "purple": ["lavender", "mauve"], "white": ["chalk white", "cream white"],
}
DEV_BACKGROUND_WORDS = {
    "black": ["inky black", "onyx"], "gray": ["charcoal gray", "smoky gray"],
    "navy": ["marine navy", "oxford navy"], "brown": ["umber", "cocoa brown"],
}
DEV_MOTION_WORDS = {
    "left": ["moving westward", "scooting to the left"],
    "right": ["moving eastward", "scooting to the right"],
    "up": ["floating skyward", "lifting upwards"],
    "down": ["sliding downwards", "sagging lower"],
    "static": ["idle", "not budging"],
    "growing": ["magnifying", "increasing in scale"],
    "shrinking": ["diminishing", "compressing inward"],
}
DEV_TEMPLATES = [
    "here we have a {color} {shape} {motion} with a {bg} background",
    "camera shot: a lone {color} {shape} {motion}, {bg} surroundings",
    "picture a {color} {shape} that is {motion} on top of {bg}",
]


# Two more development wordings, written later and apart from the reader's sentence shapes (by
# someone who had not seen how the reader fails), because DEV_* had been tuned on until its
# figures stopped saying how well an unseen wording is read: 89% of dev prompts read right
# against 70% of paraphrases. Harder than either (many colours are things of that colour:
# "tomato", "obsidian"). Their words are in neither the training, paraphrase nor DEV_* wording,
# nor in each other; a test checks.
DEV2_SHAPE_WORDS = {
    "circle": ["ring", "wheel", "spot"],
    "square": ["rectangle", "pixel", "tablet"],
    "triangle": ["pennant", "yield sign", "pizza slice"],
}
DEV2_COLOR_WORDS = {
    "red": ["cardinal", "tomato", "poppy"],
    "orange": ["clementine", "persimmon", "papaya"],
    "yellow": ["sunflower", "butter", "daffodil"],
    "green": ["shamrock", "moss", "fern"],
    "cyan": ["seafoam", "glacier", "lagoon"],
    "blue": ["denim", "lapis", "ocean"],
    "purple": ["eggplant", "orchid", "mulberry"],
    "white": ["eggshell", "alabaster", "porcelain"],
}
DEV2_BACKGROUND_WORDS = {
    "black": ["obsidian", "raven"],
    "gray": ["pewter", "concrete"],
    "navy": ["admiral", "nautical"],
    "brown": ["chestnut", "mahogany"],
}
DEV2_MOTION_WORDS = {
    "left": ["zooming west", "rolling westbound", "crossing to the west"],
    "right": ["zooming east", "rolling eastbound", "crossing to the east"],
    "up": ["levitating", "rocketing north", "flying higher"],
    "down": ["plummeting", "tumbling", "racing south"],
    "static": ["parked", "remaining fixed", "waiting quietly"],
    "growing": ["mushrooming", "fattening", "bulging"],
    "shrinking": ["shriveling", "waning", "condensing"],
}
DEV2_TEMPLATES = [
    "please produce a {color} {shape} {motion}, with the screen painted {bg}",
    "{bg} canvas, featuring a {color} {shape} {motion}",
    "a {color} {shape} {motion} while the whole frame stays {bg}",
    "the backing is {bg}; the {shape}, tinted {color}, is {motion}",
]

DEV3_SHAPE_WORDS = {
    "circle": ["roundel", "puck", "medallion"],
    "square": ["quadrilateral", "sticky note", "pane"],
    "triangle": ["trilateral", "sail", "tent"],
}
DEV3_COLOR_WORDS = {
    "red": ["carmine", "strawberry", "cranberry"],
    "orange": ["mandarin", "marmalade", "cantaloupe"],
    "yellow": ["dandelion", "citrine", "school bus"],
    "green": ["clover", "pine", "avocado"],
    "cyan": ["caribbean", "swimming pool", "robin egg"],
    "blue": ["prussian", "delft", "kingfisher"],
    "purple": ["aubergine", "wisteria", "iris"],
    "white": ["linen", "cotton", "cloud"],
}
DEV3_BACKGROUND_WORDS = {
    "black": ["soot", "licorice"],
    "gray": ["cement", "fog"],
    "navy": ["naval", "twilight"],
    "brown": ["espresso", "hazelnut"],
}
DEV3_MOTION_WORDS = {
    "left": ["steering to port", "veering portside", "cruising westerly"],
    "right": ["steering to starboard", "veering starboard", "cruising easterly"],
    "up": ["elevating", "mounting heavenward", "surfacing"],
    "down": ["diving", "cascading", "dipping earthward"],
    "static": ["paused", "immobile", "anchored"],
    "growing": ["dilating", "blossoming", "gaining mass"],
    "shrinking": ["withering", "retracting", "losing mass"],
}
DEV3_TEMPLATES = [
    "animate a {color} {shape} {motion} within a {bg} environment",
    "using a {bg} base layer, draw a {color} {shape} {motion}",
    "{bg} setting. subject: {color} {shape}. action: {motion}.",
    "a {shape} with a {color} hue, {motion}, {bg} filling the view",
]


# name -> (templates, shape, colour, motion and background words) of each development wording
DEV_WORDINGS = {
    "dev": (DEV_TEMPLATES, DEV_SHAPE_WORDS, DEV_COLOR_WORDS, DEV_MOTION_WORDS, DEV_BACKGROUND_WORDS),
    "dev2": (DEV2_TEMPLATES, DEV2_SHAPE_WORDS, DEV2_COLOR_WORDS, DEV2_MOTION_WORDS, DEV2_BACKGROUND_WORDS),
    "dev3": (DEV3_TEMPLATES, DEV3_SHAPE_WORDS, DEV3_COLOR_WORDS, DEV3_MOTION_WORDS, DEV3_BACKGROUND_WORDS),
}
