"""Deterministic generator of the demo data set (a fictional film/series catalogue).

    python sample_data/generate.py        # rewrites items.csv, users.csv, interactions.csv here

Only numpy, pandas and the standard library are used.  Everything is drawn from one
``numpy.random.Generator`` seeded with ``SEED``, so a run reproduces the committed files
byte for byte (same numpy/pandas versions).  Transcendental functions are evaluated with
``math`` on scalars or through small look-up tables rather than numpy's vectorised
(CPU-dispatched) kernels, so the sampling does not hinge on last-bit differences between
machines.  See README.md next to this file for the model.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 7

# ----------------------------------------------------------------------------- sizes
N_ITEMS = 2000
N_USERS = 1000
N_FRANCHISES = 100
FRANCHISE_SIZES = (2, 3, 4)
FRANCHISE_SIZE_P = (0.5, 0.3, 0.2)

# ----------------------------------------------------------------------------- interaction model
ALPHA = 0.7  # popularity exponent: p ∝ popularity^ALPHA ...
ZIPF_S = 1.35  # popularity of the item at popularity rank r is (r + 1)^-ZIPF_S
BETA = 5.0  # ... × exp(BETA · taste·topics) ...
GAMMA_GENRE = 0.6  # ... × exp(GAMMA_GENRE) if the item has one of the user's preferred genres ...
LANG_LOCAL = 1.0  # ... × exp(LANG_LOCAL) if in the user's (non-English) local language
LANG_FOREIGN = -0.3  # ... × exp(LANG_FOREIGN) if in another non-English language
P_RANDOM = 0.12  # uniform random pick among unseen items (noise)
P_FRANCHISE_IN_SESSION = 0.8  # after part n comes part n+1 (same session)
P_FRANCHISE_NEW_SESSION = 0.6  # ... or at the start of the next session
SEQUEL_DAMPING = 0.1  # weight factor of part n+1 until the user has seen part n
P_STAY_IN_SESSION = 0.75  # next item takes a topic of one of the last 1-3 items
P_STAY_NEW_SESSION = 0.35  # same, at the start of a new session
RECENT_WEIGHTS = (0.6, 0.25, 0.15)  # which of the last 3 items lends its topic (latest first)
MEAN_SESSION_LENGTH = 3.5
ACTIVITY_LOG_MEAN = math.log(38.0)  # interactions per user ~ lognormal, clipped to [5, 400]
ACTIVITY_LOG_SD = 1.05
MIN_ACTIVITY, MAX_ACTIVITY = 5, 400
P_NO_ABOUT = 0.10
T_START = 1704067200  # 2024-01-01 00:00:00 UTC
YEAR_SECONDS = 366 * 86400

# ----------------------------------------------------------------------------- vocabularies
GENRES = [
    "Action", "Adventure", "Animation", "Comedy", "Crime", "Documentary", "Drama", "Family",
    "Fantasy", "Horror", "Mystery", "Romance", "Sci-Fi", "Sport", "Thriller", "War",
]

# Each topic: tag/description keywords, title nouns and adjectives, description phrase
# pieces (who / what / where), genre affinities and phrases users describe it with.
TOPICS: list[dict] = [
    dict(
        name="space",
        keywords=["space", "spaceship", "astronaut", "orbit", "planet", "galaxy", "alien", "crew",
                  "space station", "starship", "moon", "mission", "nebula"],
        nouns=["Orbit", "Star", "Nebula", "Horizon", "Eclipse", "Comet", "Moon", "Voyager", "Signal", "Void"],
        adjs=["Distant", "Cold", "Infinite", "Silent", "Last"],
        who=["a rookie astronaut", "the crew of a deep-space freighter", "a stranded mission commander",
             "a young starship navigator"],
        what=["repair a failing space station before the oxygen runs out", "answer a mysterious alien signal",
              "bring the crew home from a doomed mission", "chart a course through an uncharted nebula",
              "survive on a frozen moon"],
        where=["aboard a starship at the edge of the galaxy", "on a mining station in orbit around Jupiter",
               "on a distant planet", "in orbit around a dying star"],
        genres={"Sci-Fi": 3, "Adventure": 1.5, "Thriller": 1, "Action": 0.8, "Drama": 0.7},
        likes=["anything set in space", "big space operas", "stories about lonely astronauts"],
    ),
    dict(
        name="heist",
        keywords=["heist", "robbery", "vault", "thief", "casino", "crew", "diamonds", "getaway", "con artist",
                  "safecracker", "loot", "double-cross"],
        nouns=["Vault", "Score", "Job", "Diamonds", "Getaway", "Jackpot", "Con", "Heist"],
        adjs=["Perfect", "Big", "Inside", "Clean", "Golden"],
        who=["a retired safecracker", "a charming con artist", "a crew of misfit thieves", "a getaway driver"],
        what=["pull off one last heist", "crack an unbreakable vault", "steal a priceless diamond",
              "rob a casino during a blackout", "outwit a double-crossing partner"],
        where=["in the heart of Monte Carlo", "beneath a high-security bank", "inside a glittering casino",
               "across a snowbound city"],
        genres={"Crime": 3, "Thriller": 2, "Action": 1.5, "Comedy": 1},
        likes=["clever heist movies", "a good con with a twist", "slick robbery capers"],
    ),
    dict(
        name="detective",
        keywords=["detective", "murder", "investigation", "clues", "inspector", "suspect", "whodunit",
                  "police", "evidence", "killer", "cold case", "disappearance"],
        nouns=["Inspector", "Witness", "Suspect", "Case", "Clue", "Alibi", "Evidence", "Trail"],
        adjs=["Quiet", "Cold", "Hidden", "Final", "Broken"],
        who=["a disgraced detective", "a sharp-eyed inspector", "a small-town police chief",
             "an amateur sleuth"],
        what=["solve a string of murders", "reopen a cold case", "unmask a killer hiding in plain sight",
              "follow the clues of a decades-old disappearance"],
        where=["in a rain-soaked harbour town", "in a remote village", "in fog-bound London",
               "in an isolated country manor"],
        genres={"Mystery": 3, "Crime": 2.5, "Thriller": 1.5, "Drama": 1},
        likes=["slow-burn detective stories", "a proper whodunit", "murder mysteries with a clever inspector"],
    ),
    dict(
        name="cooking",
        keywords=["kitchen", "chef", "cooking", "restaurant", "recipe", "food", "baking", "competition",
                  "flavours", "menu", "cuisine", "bakery"],
        nouns=["Kitchen", "Recipe", "Feast", "Table", "Menu", "Spice", "Bakery", "Supper"],
        adjs=["Secret", "Sweet", "Bitter", "Hungry", "Little"],
        who=["an ambitious young chef", "a burned-out restaurant owner", "a family of bakers",
             "a self-taught home cook"],
        what=["win a national cooking competition", "save a failing restaurant",
              "recreate a grandmother's lost recipe", "open a bakery against all odds"],
        where=["in a busy Paris kitchen", "in a tiny seaside restaurant", "in a Tokyo noodle bar",
               "in a village bakery"],
        genres={"Comedy": 2, "Drama": 2, "Romance": 1.2, "Documentary": 1.2, "Family": 0.8},
        likes=["anything about food and cooking", "cosy kitchen dramas", "chef documentaries"],
    ),
    dict(
        name="football",
        keywords=["football", "team", "coach", "match", "stadium", "league", "goal", "season", "fans",
                  "championship", "striker", "underdog"],
        nouns=["Goal", "Pitch", "Season", "Kick-Off", "League", "Derby", "Champions", "Striker"],
        adjs=["Final", "Golden", "Perfect", "Home", "Long"],
        who=["a washed-up football coach", "a teenage striker", "an underdog amateur team",
             "a club's loyal fans"],
        what=["lead the team to the championship", "win one last match",
              "rebuild a club from the bottom of the league", "make it into the national team"],
        where=["in a rundown stadium", "in a northern mill town", "on the muddy pitches of the lower league",
               "in the favelas of Rio"],
        genres={"Sport": 3, "Drama": 2, "Comedy": 1, "Documentary": 1.2, "Family": 0.6},
        likes=["football films", "underdog sports stories", "anything about the beautiful game"],
    ),
    dict(
        name="wizard",
        keywords=["wizard", "magic", "spell", "dragon", "kingdom", "quest", "sorcerer", "prophecy", "castle",
                  "witch", "sword", "enchanted forest"],
        nouns=["Wizard", "Dragon", "Crown", "Spell", "Kingdom", "Throne", "Sorcerer", "Oath"],
        adjs=["Enchanted", "Forgotten", "Eternal", "Cursed", "Hollow"],
        who=["a young wizard's apprentice", "an exiled princess", "an ageing sorcerer",
             "a reluctant farm boy"],
        what=["break an ancient curse", "find a stolen book of spells", "tame the last dragon",
              "fulfil a long-forgotten prophecy", "defend the kingdom from a dark sorcerer"],
        where=["in an enchanted forest", "in a crumbling castle", "in a kingdom ruled by witches",
               "beyond the misty mountains"],
        genres={"Fantasy": 3, "Adventure": 2, "Family": 1, "Animation": 1, "Action": 0.8},
        likes=["wizards and dragons", "epic fantasy quests", "anything with magic in it"],
    ),
    dict(
        name="ocean",
        keywords=["ocean", "sea", "sailor", "ship", "island", "storm", "voyage", "harbour", "whale", "captain",
                  "waves", "lighthouse"],
        nouns=["Tide", "Harbour", "Lighthouse", "Current", "Reef", "Anchor", "Mariner", "Island"],
        adjs=["Deep", "Open", "Stormy", "Blue", "Drowned"],
        who=["a weathered ship's captain", "a young sailor", "a lonely lighthouse keeper",
             "a marine biologist"],
        what=["survive a storm in the middle of the ocean", "find a ship lost at sea",
              "sail around the world alone", "rescue the crew of a sinking trawler"],
        where=["on a remote island", "in a windswept harbour", "aboard an old fishing ship",
               "on the open sea"],
        genres={"Adventure": 2.5, "Drama": 2, "Documentary": 1, "Thriller": 1, "Family": 0.5},
        likes=["anything set at sea", "stories about sailors and ships", "films about the ocean"],
    ),
    dict(
        name="war",
        keywords=["war", "soldier", "battle", "army", "platoon", "front line", "resistance", "trenches",
                  "general", "wartime", "siege", "veteran"],
        nouns=["Front", "Siege", "Trenches", "Regiment", "Banner", "Fortress", "Bunker", "Ridge"],
        adjs=["Burning", "Iron", "Fallen", "Bitter", "Long"],
        who=["a young soldier", "a battle-weary platoon", "a resistance fighter", "a field nurse"],
        what=["hold the line against impossible odds", "smuggle refugees across the front line",
              "survive a brutal winter siege", "bring a wounded comrade home from battle"],
        where=["in the trenches of the Western Front", "behind enemy lines", "in occupied Paris",
               "on a besieged island"],
        genres={"War": 3, "Drama": 2, "Action": 1.5, "Adventure": 0.5},
        likes=["gritty war films", "stories about soldiers at the front", "Second World War dramas"],
    ),
    dict(
        name="family",
        keywords=["family", "siblings", "parents", "childhood", "grandmother", "reunion", "home", "wedding",
                  "brothers", "sisters", "holiday", "inheritance"],
        nouns=["Homecoming", "Sisters", "Brothers", "House", "Reunion", "Summer", "Wedding", "Kin"],
        adjs=["Little", "Happy", "Crowded", "Second", "Long"],
        who=["three estranged sisters", "a single father", "a chaotic big family", "two brothers"],
        what=["reunite for their grandmother's ninetieth birthday", "sell the old family house",
              "survive a holiday together", "keep the family together after a loss",
              "plan a wedding that everyone dreads"],
        where=["in a crumbling family home", "on a summer road trip", "in a sleepy coastal village",
               "during a snowed-in holiday"],
        genres={"Family": 2.5, "Drama": 2.5, "Comedy": 2, "Animation": 0.6, "Romance": 0.5},
        likes=["warm family dramas", "stories about siblings", "feel-good family comedies"],
    ),
    dict(
        name="robot",
        keywords=["robot", "android", "artificial intelligence", "machine", "hacker", "algorithm", "cyborg",
                  "lab", "scientist", "future", "technology", "code"],
        nouns=["Machine", "Android", "Circuit", "Code", "Protocol", "Algorithm", "Singularity", "Automaton"],
        adjs=["Artificial", "Electric", "Synthetic", "Human", "Perfect"],
        who=["a lonely android", "a brilliant robotics engineer", "a teenage hacker", "a household robot"],
        what=["discover what it means to be human", "stop a rogue artificial intelligence",
              "escape the lab that built it", "expose a tech company's secret algorithm"],
        where=["in a neon-lit megacity", "in a near-future Silicon Valley", "inside an automated factory",
               "in a world run by machines"],
        genres={"Sci-Fi": 3, "Thriller": 1.5, "Drama": 1, "Action": 1, "Animation": 0.8},
        likes=["films about robots and AI", "smart near-future science fiction", "stories about androids"],
    ),
    dict(
        name="haunted",
        keywords=["ghost", "haunted house", "curse", "demon", "possession", "nightmare", "ritual", "cellar",
                  "fear", "spirit", "mansion", "blood"],
        nouns=["Haunting", "Cellar", "Ritual", "Nightmare", "Presence", "Attic", "Seance", "Whisper"],
        adjs=["Dead", "Crimson", "Hollow", "Unholy", "Dark"],
        who=["a family of new homeowners", "a sceptical paranormal investigator", "a group of college friends",
             "a grieving widow"],
        what=["escape a house that will not let them leave", "banish the ghost haunting their daughter",
              "survive the night in a cursed cabin", "uncover the ritual behind a string of possessions"],
        where=["in a haunted Victorian mansion", "in a cabin deep in the woods", "in an abandoned asylum",
               "in a village that fears the dark"],
        genres={"Horror": 3, "Thriller": 1.5, "Mystery": 1, "Fantasy": 0.3},
        likes=["ghost stories", "proper haunted-house horror", "anything that keeps me up at night"],
    ),
    dict(
        name="romance",
        keywords=["love", "romance", "couple", "heartbreak", "first love", "dating", "love letters", "kiss",
                  "proposal", "soulmates", "affair", "second chance"],
        nouns=["Heart", "Kiss", "Promise", "Valentine", "Letters", "Proposal", "Sweetheart", "Affair"],
        adjs=["Tender", "Endless", "Secret", "Unexpected", "Sweet"],
        who=["two strangers", "a heartbroken florist and a travelling musician", "two pen pals",
             "childhood sweethearts", "a wedding planner and the groom's brother"],
        what=["fall in love over one unforgettable summer", "find their way back to each other",
              "choose between love and ambition", "give love a second chance"],
        where=["in the streets of Rome", "in a small-town bookshop", "on a cross-country train",
               "in a snowy mountain village"],
        genres={"Romance": 3, "Comedy": 2, "Drama": 2},
        likes=["romantic comedies", "a good love story", "swoony romances"],
    ),
    dict(
        name="spy",
        keywords=["spy", "secret agent", "espionage", "mole", "assassin", "cold war", "intelligence",
                  "conspiracy", "cipher", "embassy", "double agent", "defector"],
        nouns=["Agent", "Cipher", "Mole", "Dossier", "Asset", "Handler", "Directive", "Exchange"],
        adjs=["Covert", "Double", "Red", "Black", "Quiet"],
        who=["a burned-out secret agent", "a rookie intelligence analyst", "a double agent",
             "a retired assassin"],
        what=["expose a mole inside the agency", "stop a conspiracy before the summit",
              "smuggle a defector across the border", "decode a cipher that could start a war"],
        where=["in Cold War Berlin", "inside a tense embassy", "across the capitals of Europe",
               "in the shadows of Moscow"],
        genres={"Thriller": 3, "Action": 2.5, "Drama": 1, "Crime": 0.7},
        likes=["spy thrillers", "Cold War espionage", "anything with a double agent"],
    ),
    dict(
        name="mountain",
        keywords=["mountain", "survival", "wilderness", "snow", "climbing", "expedition", "avalanche",
                  "blizzard", "glacier", "summit", "forest", "rescue"],
        nouns=["Summit", "Peak", "Glacier", "Avalanche", "Blizzard", "Wilderness", "Ascent", "Crevasse"],
        adjs=["Frozen", "White", "High", "Wild", "Cold"],
        who=["a mountain rescue team", "a stubborn climber", "a pilot stranded after a crash",
             "a father and son"],
        what=["reach the summit before the storm", "survive a blizzard with no supplies",
              "find a way off the glacier", "lead a rescue after an avalanche"],
        where=["high in the Himalayas", "in the Alaskan wilderness", "on a frozen glacier",
               "in the Canadian Rockies"],
        genres={"Adventure": 3, "Thriller": 1.5, "Drama": 1.5, "Documentary": 1, "Action": 1},
        likes=["survival stories in the wild", "mountain climbing films", "anything set in the snow"],
    ),
    dict(
        name="wildlife",
        keywords=["wildlife", "nature", "animals", "jungle", "elephants", "safari", "wolves", "conservation",
                  "savanna", "migration", "birds", "rainforest"],
        nouns=["Savanna", "Jungle", "Herd", "Pride", "Migration", "Rainforest", "Pack", "Wings"],
        adjs=["Wild", "Untamed", "Great", "Living", "Secret"],
        who=["a wildlife photographer", "a young elephant", "a pack of wolves", "a team of conservationists",
             "a family of lions"],
        what=["follow the great migration across the savanna", "protect the last rhinos from poachers",
              "survive a first year in the wild", "film rare animals deep in the rainforest"],
        where=["on the African savanna", "deep in the Amazon rainforest", "in the forests of Yellowstone",
               "on the coasts of Borneo"],
        genres={"Documentary": 3, "Family": 1.5, "Adventure": 1.5, "Animation": 1},
        likes=["nature documentaries", "anything with animals", "wildlife films"],
    ),
    dict(
        name="music",
        keywords=["music", "band", "singer", "concert", "tour", "guitar", "rock", "jazz", "album", "musician",
                  "stage", "song"],
        nouns=["Song", "Encore", "Chorus", "Tour", "Melody", "Stage", "Record", "Blues"],
        adjs=["Loud", "Electric", "Midnight", "Broken", "Golden"],
        who=["a struggling jazz singer", "a garage rock band", "a gifted young pianist", "a fading pop star"],
        what=["record one last album", "win a battle of the bands", "survive a disastrous world tour",
              "find their voice after losing everything"],
        where=["in the clubs of New Orleans", "in 1970s London", "on a cross-country tour",
               "in a small-town music school"],
        genres={"Drama": 2, "Documentary": 1.8, "Comedy": 1.5, "Romance": 1},
        likes=["music documentaries", "films about bands and musicians", "anything about jazz or rock"],
    ),
    dict(
        name="school",
        keywords=["school", "teenagers", "high school", "teacher", "friendship", "exams", "prom", "graduation",
                  "bullies", "classroom", "campus", "coming of age"],
        nouns=["Class", "Prom", "Detention", "Homeroom", "Yearbook", "Campus", "Graduation", "Locker"],
        adjs=["Senior", "Awkward", "Perfect", "Big", "Last"],
        who=["a shy teenager", "a group of misfit students", "a new teacher", "two best friends"],
        what=["survive the final year of high school", "win over the whole class",
              "plan the ultimate prom night", "stand up to the school bullies"],
        where=["in a suburban high school", "at a strict boarding school", "on a college campus",
               "in a small-town classroom"],
        genres={"Comedy": 2.5, "Drama": 2, "Romance": 1.2, "Family": 1},
        likes=["coming-of-age stories", "high school comedies", "teen dramas"],
    ),
    dict(
        name="apocalypse",
        keywords=["zombie", "apocalypse", "survivors", "outbreak", "virus", "wasteland", "infection", "undead",
                  "bunker", "collapse", "scavengers", "plague"],
        nouns=["Outbreak", "Wasteland", "Plague", "Fallout", "Remnant", "Infection", "Exodus", "Undead"],
        adjs=["Last", "Dead", "Burning", "Empty", "Final"],
        who=["a handful of survivors", "a hardened scavenger", "a young medic",
             "a father searching for his daughter"],
        what=["survive the zombie outbreak", "find a cure for the virus",
              "cross the wasteland to a rumoured safe zone", "hold a bunker against the undead"],
        where=["in a city overrun by zombies", "after the collapse of civilisation", "in a quarantined town",
               "on the road through the wasteland"],
        genres={"Horror": 2.5, "Action": 2, "Sci-Fi": 1.5, "Thriller": 1.5, "Drama": 0.5},
        likes=["zombie films", "post-apocalyptic survival stories", "anything with an outbreak"],
    ),
    dict(
        name="courtroom",
        keywords=["courtroom", "lawyer", "trial", "judge", "jury", "justice", "verdict", "prosecutor",
                  "testimony", "scandal", "law firm", "corruption"],
        nouns=["Verdict", "Testimony", "Jury", "Justice", "Appeal", "Counsel", "Defence", "Objection"],
        adjs=["Guilty", "Innocent", "Final", "Sworn", "Public"],
        who=["an idealistic young lawyer", "a veteran prosecutor", "a wrongly accused man",
             "a jury of twelve strangers"],
        what=["win an impossible murder trial", "expose corruption at the top of a law firm",
              "prove a client's innocence", "reach a verdict that will divide the country"],
        where=["in a packed courtroom", "in the corridors of the Supreme Court", "in a small Southern town",
               "in a ruthless Manhattan law firm"],
        genres={"Drama": 3, "Thriller": 2, "Crime": 1.5, "Mystery": 0.8},
        likes=["courtroom dramas", "legal thrillers", "stories about lawyers and trials"],
    ),
    dict(
        name="martial_arts",
        keywords=["martial arts", "kung fu", "samurai", "sword", "dojo", "master", "tournament", "revenge",
                  "honour", "fighter", "temple", "ninja"],
        nouns=["Blade", "Fist", "Dojo", "Ronin", "Tiger", "Temple", "Katana", "Lotus"],
        adjs=["Iron", "Flying", "Hidden", "Jade", "Seventh"],
        who=["a young kung fu student", "a wandering samurai", "a retired fighter", "an old master"],
        what=["avenge a murdered master", "win an underground fighting tournament",
              "defend a village from bandits", "restore the honour of a fallen dojo"],
        where=["in a mountain temple", "in feudal Japan", "in the back streets of Hong Kong",
               "in a village on the Silk Road"],
        genres={"Action": 3, "Adventure": 1.5, "Drama": 1, "Thriller": 0.7, "Comedy": 0.5},
        likes=["martial arts films", "samurai epics", "kung fu action"],
    ),
]
N_TOPICS = len(TOPICS)
TOPIC_PRIOR = [1.2, 1.0, 1.4, 0.8, 0.8, 1.1, 0.9, 0.9, 1.0, 1.0, 0.9, 1.2, 1.0, 0.7, 0.8, 0.7, 0.9, 0.9, 0.9, 0.8]

GENERIC_ADJS = ["Last", "Silent", "Dark", "Lost", "Broken", "Long", "Hidden", "Final", "Golden", "Wild",
                "Little", "Great", "Secret", "Quiet", "Bright"]
ABSTRACT = ["Ashes", "Glass", "Silence", "Thunder", "Smoke", "Dust", "Gold", "Salt", "Bones", "Shadows",
            "Light", "Rain", "Iron", "Embers", "Secrets", "Tomorrow", "Winter", "Fire", "Stone", "Mirrors",
            "Midnight", "Echoes", "Kings", "Strangers"]
PLACES = ["Kestrel Point", "Brightwater", "Old Harlow", "Marrow Bay", "Saint Agnes", "Port Ellery", "Halden",
          "Vennick", "Redcliff", "Aldermoor", "Castle Rook", "Greywater", "Black Hollow", "Morrow Creek",
          "Pinehurst", "Ashford Vale"]
PREPOSITIONS = ["Beyond the", "Under the", "After the", "Into the", "Before the"]
SUFFIXES = ["Rising", "Zero", "Protocol", "Down", "Road", "Files", "Days", "Nights"]
TONES = ["gripping", "warm", "slow-burn", "darkly funny", "tense", "heartfelt", "sprawling", "quiet",
         "breathless", "bittersweet"]
ROMAN = ["", " II", " III", " IV"]
ORDINAL = ["", "second", "third", "fourth"]
GENERIC_TAGS = ["based on a true story", "ensemble cast", "award-winning", "cult classic", "book adaptation",
                "feel-good", "twist ending"]

LANGUAGES = ["English", "Spanish", "French", "German", "Italian", "Japanese", "Korean", "Mandarin", "Hindi",
             "Portuguese", "Danish", "Swedish"]
LANGUAGE_P = [0.55, 0.07, 0.07, 0.04, 0.03, 0.05, 0.05, 0.04, 0.04, 0.03, 0.015, 0.015]
LANGUAGE_BOOST = {  # topic -> {language: factor}; e.g. Nordic noir, Asian martial-arts cinema
    "detective": {"Danish": 3, "Swedish": 3},
    "martial_arts": {"Japanese": 4, "Mandarin": 4, "Korean": 2},
    "cooking": {"French": 2, "Italian": 2, "Japanese": 1.5},
    "football": {"Spanish": 2, "Portuguese": 3},
    "music": {"English": 1.3},
}
COUNTRIES = [  # (country, local language, weight)
    ("United States", "English", 0.30), ("United Kingdom", "English", 0.12), ("Canada", "English", 0.06),
    ("Australia", "English", 0.04), ("Germany", "German", 0.07), ("France", "French", 0.07),
    ("Spain", "Spanish", 0.05), ("Mexico", "Spanish", 0.05), ("Brazil", "Portuguese", 0.06),
    ("India", "Hindi", 0.06), ("Japan", "Japanese", 0.05), ("South Korea", "Korean", 0.04),
    ("Italy", "Italian", 0.03),
]
OCCUPATIONS = ["student", "software engineer", "teacher", "nurse", "designer", "retired", "sales associate",
               "accountant", "chef", "journalist", "electrician", "marketing manager"]
WORKING = [o for o in OCCUPATIONS if o not in ("student", "retired")]

TOPIC_INDEX = {t["name"]: k for k, t in enumerate(TOPICS)}
GENRE_INDEX = {g: i for i, g in enumerate(GENRES)}
# Item topic mixtures are sparse: (primary weight, secondary weight) from this table.
MIXTURES = [(1.0, 0.0), (0.75, 0.25), (0.6, 0.4)]
MIXTURE_P = [0.45, 0.35, 0.20]
WEIGHT_LEVELS = [1.0, 0.75, 0.6, 0.4, 0.25, 0.0]  # every topic weight an item can have


# ============================================================================= helpers
def _pick(rng: np.random.Generator, seq):
    return seq[int(rng.integers(len(seq)))]


def _weighted_index(rng: np.random.Generator, weights) -> int:
    cum = np.cumsum(np.asarray(weights, dtype=np.float64))
    return min(int(np.searchsorted(cum, rng.random() * cum[-1], side="right")), len(cum) - 1)


def _weighted_sample(rng: np.random.Generator, weights, k: int) -> list[int]:
    """k distinct indices, successively drawn ∝ weights (zero weights never chosen)."""
    w = np.asarray(weights, dtype=np.float64).copy()
    out = []
    for _ in range(min(k, int(np.count_nonzero(w)))):
        i = _weighted_index(rng, w)
        out.append(i)
        w[i] = 0.0
    return out


PLURAL_WHO = {"three estranged sisters", "two brothers", "two strangers", "two pen pals", "childhood sweethearts",
              "a heartbroken florist and a travelling musician", "a wedding planner and the groom's brother",
              "two best friends", "a handful of survivors", "a father and son", "a club's loyal fans"}


def _verb(who: str, singular: str, plural: str) -> str:
    return plural if who in PLURAL_WHO else singular


def _cap(s: str) -> str:
    return s[0].upper() + s[1:]


def _topic_weights(primary: int, secondary: int, mix: tuple[float, float]) -> dict[int, float]:
    out = {primary: mix[0]}
    if secondary >= 0:
        out[secondary] = mix[1]
    return out


# ============================================================================= items
def _title(rng, used: set, topics: dict[int, float]) -> str:
    ks = list(topics)

    def noun():
        k = ks[0] if len(ks) == 1 or rng.random() < 0.7 else ks[1]
        return _pick(rng, TOPICS[k]["nouns"])

    def adj():
        return _pick(rng, TOPICS[ks[0]]["adjs"]) if rng.random() < 0.5 else _pick(rng, GENERIC_ADJS)

    def _two_nouns():
        first = _pick(rng, TOPICS[ks[0]]["nouns"])
        others = [x for x in TOPICS[ks[-1]]["nouns"] if x != first]
        return first, _pick(rng, others)

    patterns = [
        (0.22, lambda: f"The {adj()} {noun()}"),
        (0.18, lambda: f"{noun()} of {_pick(rng, ABSTRACT)}"),
        (0.08, lambda: f"The {noun()}"),
        (0.10, lambda: f"{adj()} {noun()}"),
        (0.07, lambda: " and ".join(_two_nouns())),
        (0.06, lambda: f"{noun()} at {_pick(rng, PLACES)}"),
        (0.10, lambda: f"{_pick(rng, PREPOSITIONS)} {noun()}"),
        (0.07, lambda: f"The {noun()} of {_pick(rng, PLACES)}"),
        (0.08, lambda: f"{noun()} {_pick(rng, SUFFIXES)}"),
        (0.04, lambda: f"{_pick(rng, PLACES)}"),
    ]
    weights = [p for p, _ in patterns]
    for _ in range(50):
        title = patterns[_weighted_index(rng, weights)][1]()
        if title not in used:
            break
    else:  # pragma: no cover - vocabularies are large enough
        title = f"{title} {_pick(rng, ABSTRACT)}"
    used.add(title)
    return title


def _tags(rng, topics: dict[int, float]) -> list[str]:
    vocab: list[str] = []
    weights: list[float] = []
    for k, w in topics.items():
        for word in TOPICS[k]["keywords"]:
            if word not in vocab:
                vocab.append(word)
                weights.append(w)
    n = 3 + int(rng.integers(4))  # 3..6
    tags = [vocab[i] for i in _weighted_sample(rng, weights, n)]
    if rng.random() < 0.1:
        tags[-1] = _pick(rng, GENERIC_TAGS)
    return tags


def _description(rng, topics: dict[int, float], keywords_from: list[str], sequel_of: str | None,
                 part: int, is_series: bool) -> str:
    ks = list(topics)
    t1 = TOPICS[ks[0]]
    sentences = []
    if sequel_of is not None:
        sentences.append(f"The {ORDINAL[part]} instalment of {sequel_of}.")
    who, what, where = _pick(rng, t1["who"]), _pick(rng, t1["what"]), _pick(rng, t1["where"])
    form = int(rng.integers(3))
    if form == 0:
        sentences.append(f"{_cap(who)} must {what} {where}.")
    elif form == 1:
        sentences.append(f"{_cap(where)}, {who} {_verb(who, 'sets', 'set')} out to {what}.")
    else:
        sentences.append(f"Forced to {what}, {who} {_verb(who, 'faces', 'face')} the hardest test of all {where}.")
    if len(ks) > 1 or rng.random() < 0.5:
        t2 = TOPICS[ks[-1]]
        who2 = _pick(rng, [x for x in t2["who"] if x != who])
        what2 = _pick(rng, [x for x in t2["what"] if x != what])
        where2 = _pick(rng, [x for x in t2["where"] if x != where])
        form = int(rng.integers(3))
        if form == 0:
            sentences.append(f"Along the way, {who2} {_verb(who2, 'helps', 'help')} them {what2}.")
        elif form == 1:
            sentences.append(f"Meanwhile, {who2} {_verb(who2, 'tries', 'try')} to {what2}.")
        else:
            sentences.append(f"Things get complicated when {who2} {_verb(who2, 'turns', 'turn')} up {where2}.")
    if len(sentences) < 3 and rng.random() < 0.6:
        kw = keywords_from[:3] if len(keywords_from) >= 3 else keywords_from + ["secrets"] * 3
        if is_series:
            n_ep = _pick(rng, ["A six", "An eight", "A ten", "A twelve"])
            sentences.append(f"{n_ep}-part series full of {kw[0]}, {kw[1]} and {kw[2]}.")
        else:
            sentences.append(f"A {_pick(rng, TONES)} story of {kw[0]}, {kw[1]} and {kw[2]}.")
    return " ".join(sentences)


def _genres(rng, topics: dict[int, float]) -> list[str]:
    w = np.zeros(len(GENRES))
    for k, tw in topics.items():
        for g, a in TOPICS[k]["genres"].items():
            w[GENRE_INDEX[g]] += tw * a
    n = [1, 2, 3][_weighted_index(rng, [0.3, 0.45, 0.25])]
    idx = _weighted_sample(rng, w, n)
    return [GENRES[i] for i in sorted(idx, key=lambda i: -w[i])]


def _language(rng, primary: int) -> str:
    w = list(LANGUAGE_P)
    for lang, f in LANGUAGE_BOOST.get(TOPICS[primary]["name"], {}).items():
        w[LANGUAGES.index(lang)] *= f
    return LANGUAGES[_weighted_index(rng, w)]


def _random_mixture(rng):
    primary = _weighted_index(rng, TOPIC_PRIOR)
    m = _weighted_index(rng, MIXTURE_P)
    secondary = -1
    if m > 0:
        w = list(TOPIC_PRIOR)
        w[primary] = 0.0
        secondary = _weighted_index(rng, w)
    return primary, secondary, m


def _make_items(rng):
    """Return a list of item dicts (in final id order) with hidden fields prefixed by '_'."""
    used_titles: set[str] = set()
    raw = []
    # franchises first
    for f in range(N_FRANCHISES):
        primary, secondary, m = _random_mixture(rng)
        topics = _topic_weights(primary, secondary, MIXTURES[m])
        size = FRANCHISE_SIZES[_weighted_index(rng, FRANCHISE_SIZE_P)]
        base = _title(rng, used_titles, topics)
        year0 = 1970 + int(rng.integers(0, 56 - 3 * (size - 1)))
        genres = _genres(rng, topics)
        lang = _language(rng, primary)
        year = year0
        for part in range(size):
            title = base + ROMAN[part]
            used_titles.add(title)
            tags = _tags(rng, topics)
            raw.append(dict(title=title, genres=genres, tags=tags, year=year, language=lang,
                            _topics=topics, _mix=m, _franchise=f, _part=part,
                            _desc_args=(base if part else None, part, False)))
            year += 1 + int(rng.integers(3))
    n_standalone = N_ITEMS - len(raw)
    for _ in range(n_standalone):
        primary, secondary, m = _random_mixture(rng)
        topics = _topic_weights(primary, secondary, MIXTURES[m])
        title = _title(rng, used_titles, topics)
        # skewed towards recent years
        year = 2025 - min(55, int(rng.exponential(12.0)))
        raw.append(dict(title=title, genres=_genres(rng, topics), tags=_tags(rng, topics), year=year,
                        language=_language(rng, primary), _topics=topics, _mix=m, _franchise=-1, _part=0,
                        _desc_args=(None, 0, rng.random() < 0.25)))
    for it in raw:
        kws = [t for t in it["tags"] if t not in GENERIC_TAGS]
        order = rng.permutation(len(kws))
        kws = [kws[i] for i in order]
        sequel_of, part, is_series = it["_desc_args"]
        it["description"] = _description(rng, it["_topics"], kws, sequel_of, part, is_series)
    # shuffle so that ids carry no information
    order = rng.permutation(len(raw))
    items = [raw[i] for i in order]
    for i, it in enumerate(items):
        it["item_id"] = f"m{i + 1:04d}"
    return items


# ============================================================================= users
def _make_users(rng):
    users = []
    lang_of_country = {c: lang for c, lang, _ in COUNTRIES}
    for u in range(N_USERS):
        age = int(min(80, 16 + round(rng.gamma(4.0, 5.5))))
        if age <= 23 and rng.random() < 0.7:
            occupation = "student"
        elif age >= 65 and rng.random() < 0.8:
            occupation = "retired"
        else:
            occupation = _pick(rng, WORKING)
        country = COUNTRIES[_weighted_index(rng, [w for _, _, w in COUNTRIES])][0]
        prior = list(TOPIC_PRIOR)
        if age < 25:
            prior[TOPIC_INDEX["school"]] *= 3
            prior[TOPIC_INDEX["apocalypse"]] *= 1.5
        if 30 <= age <= 50:
            prior[TOPIC_INDEX["family"]] *= 2
        if age >= 55:
            prior[TOPIC_INDEX["war"]] *= 1.8
            prior[TOPIC_INDEX["wildlife"]] *= 1.5
            prior[TOPIC_INDEX["detective"]] *= 1.3
        n_topics = [2, 3, 4][_weighted_index(rng, [0.35, 0.4, 0.25])]
        chosen = _weighted_sample(rng, prior, n_topics)
        shares = rng.dirichlet([1.5] * n_topics)
        order = np.argsort(-shares, kind="stable")
        taste = np.zeros(N_TOPICS)
        taste_topics = []
        for j in order:
            taste[chosen[j]] = round(float(shares[j]), 4)
            taste_topics.append(chosen[j])
        gw = np.zeros(len(GENRES))
        for k in taste_topics:
            for g, a in TOPICS[k]["genres"].items():
                gw[GENRE_INDEX[g]] += taste[k] * a
        pref_genres = _weighted_sample(rng, gw, 1 + int(rng.integers(3)))
        activity = int(min(MAX_ACTIVITY, max(MIN_ACTIVITY, round(rng.lognormal(ACTIVITY_LOG_MEAN,
                                                                                  ACTIVITY_LOG_SD)))))
        about = "" if rng.random() < P_NO_ABOUT else _about(rng, taste_topics, pref_genres)
        users.append(dict(user_id=f"u{u + 1:04d}", age=age, occupation=occupation, country=country,
                          about=about, _taste=taste, _taste_topics=taste_topics, _pref_genres=pref_genres,
                          _activity=activity, _lang=lang_of_country[country]))
    return users


def _about(rng, taste_topics: list[int], pref_genres: list[int]) -> str:
    n = min(len(taste_topics), 1 + _weighted_index(rng, [0.35, 0.45, 0.2]))
    phrases = [_pick(rng, TOPICS[k]["likes"]) for k in taste_topics[:n]]
    if n == 1:
        s = _pick(rng, ["Can't get enough of {0}.", "Mostly here for {0}.", "Always up for {0}."]).format(*phrases)
    elif n == 2:
        s = _pick(rng, ["Loves {0} and {1}.", "Big fan of {0}; also enjoys {1}.",
                        "Mostly watches {0}, sometimes {1}."]).format(*phrases)
    else:
        s = _pick(rng, ["Into {0}, {1} and {2}.", "Loves {0}, {1} and {2}."]).format(*phrases)
    if rng.random() < 0.3:
        s += f" Usually in the mood for {GENRES[pref_genres[0]].lower()}."
    return s


# ============================================================================= interactions
def _popularity(rng, items) -> np.ndarray:
    """Zipf-like popularity^ALPHA per item (sequels less popular than part one)."""
    ranks = rng.permutation(len(items))
    pop_alpha = np.array([math.pow(r + 1.0, -ZIPF_S * ALPHA) for r in ranks])
    first_part_of = {}
    for i, it in enumerate(items):
        if it["_franchise"] >= 0 and it["_part"] == 0:
            first_part_of[it["_franchise"]] = i
    for i, it in enumerate(items):
        if it["_part"] > 0:
            pop_alpha[i] = pop_alpha[first_part_of[it["_franchise"]]] * math.pow(0.7, it["_part"])
    return pop_alpha


def _interactions(rng, items, users):
    n = len(items)
    # sparse topic structure of items: primary/secondary topic and the index of their weight level
    k1 = np.array([list(it["_topics"])[0] for it in items])
    k2 = np.array([list(it["_topics"])[1] if len(it["_topics"]) > 1 else N_TOPICS for it in items])
    lvl = {w: i for i, w in enumerate(WEIGHT_LEVELS)}
    l1 = np.array([lvl[MIXTURES[it["_mix"]][0]] for it in items])
    l2 = np.array([lvl[MIXTURES[it["_mix"]][1]] for it in items])
    w1 = np.array([MIXTURES[it["_mix"]][0] for it in items])
    w2 = np.array([MIXTURES[it["_mix"]][1] for it in items])
    genre_sets = [frozenset(GENRE_INDEX[g] for g in it["genres"]) for it in items]
    langs = [it["language"] for it in items]
    quality = rng.normal(0.0, 0.35, size=n)
    pop_alpha = _popularity(rng, items)
    next_part = np.full(n, -1)
    by_franchise: dict[int, dict[int, int]] = {}
    for i, it in enumerate(items):
        if it["_franchise"] >= 0:
            by_franchise.setdefault(it["_franchise"], {})[it["_part"]] = i
    for parts in by_franchise.values():
        for p, i in parts.items():
            if p + 1 in parts:
                next_part[i] = parts[p + 1]
    sequel_factor = np.array([SEQUEL_DAMPING if it["_part"] > 0 else 1.0 for it in items])
    topic_items = []  # per topic: (item indices, weight of the topic in each)
    for k in range(N_TOPICS):
        idx = np.flatnonzero((k1 == k) | (k2 == k))
        topic_items.append((idx, np.where(k1[idx] == k, w1[idx], w2[idx])))
    item_topics = [(int(k1[i]),) if k2[i] == N_TOPICS else (int(k1[i]), int(k2[i])) for i in range(n)]
    item_topic_w = [(float(w1[i]),) if k2[i] == N_TOPICS else (float(w1[i]), float(w2[i])) for i in range(n)]
    lang_factor_cache = {}

    rows_u, rows_i, rows_r, rows_t = [], [], [], []
    for ui, user in enumerate(users):
        taste = user["_taste"]
        # exp(BETA * taste_k * w) as a [topic + pad, weight level] table (math.exp for portability)
        table = np.ones((N_TOPICS + 1, len(WEIGHT_LEVELS)))
        for k in range(N_TOPICS):
            for j, w in enumerate(WEIGHT_LEVELS):
                table[k, j] = math.exp(BETA * float(taste[k]) * w)
        pref = frozenset(user["_pref_genres"])
        g_match = np.array([1.0 if (gs & pref) else 0.0 for gs in genre_sets])
        key = user["_lang"]
        if key not in lang_factor_cache:
            lf = np.ones(n)
            for i, lang in enumerate(langs):
                if lang != "English":
                    lf[i] = math.exp(LANG_LOCAL) if lang == key else math.exp(LANG_FOREIGN)
            lang_factor_cache[key] = lf
        weight = (pop_alpha * table[k1, l1] * table[k2, l2]
                  * np.where(g_match > 0, math.exp(GAMMA_GENRE), 1.0) * lang_factor_cache[key])
        # rating ingredients: match relative to the user's favourite topic
        match = (np.concatenate([taste, [0.0]])[k1] * w1 + np.concatenate([taste, [0.0]])[k2] * w2) / taste.max()
        user_bias = rng.normal(0.0, 0.3)

        n_act = user["_activity"]
        lengths = []
        while sum(lengths) < n_act:
            lengths.append(int(rng.geometric(1.0 / MEAN_SESSION_LENGTH)))
        lengths[-1] -= sum(lengths) - n_act
        lengths = [x for x in lengths if x > 0]
        # session start times within the user's active window, evening-heavy
        start = T_START + int(rng.uniform(0.0, 0.5) * YEAR_SECONDS)
        end = T_START + YEAR_SECONDS - int(rng.uniform(0.0, 0.08) * YEAR_SECONDS)
        first_day, last_day = start // 86400, end // 86400 - 1
        days = np.sort(rng.integers(first_day, last_day + 1, size=len(lengths)))

        w_cur = weight * sequel_factor
        seen = np.zeros(n, dtype=bool)
        history: list[int] = []
        t_prev = 0
        for s, (day, length) in enumerate(zip(days, lengths)):
            hour = 17 + rng.integers(0, 7) if rng.random() < 0.7 else 8 + rng.integers(0, 9)
            t = int(day) * 86400 + int(hour) * 3600 + int(rng.integers(0, 3600))
            for j in range(length):
                if j > 0:
                    t += int(rng.integers(25 * 60, 150 * 60))
                t = max(t, t_prev + 60)
                t_prev = t
                in_session = j > 0
                item = -1
                last = history[-1] if history else -1
                if last >= 0 and next_part[last] >= 0 and not seen[next_part[last]] and rng.random() < (
                        P_FRANCHISE_IN_SESSION if in_session else P_FRANCHISE_NEW_SESSION):
                    item = int(next_part[last])
                elif rng.random() < P_RANDOM:
                    while True:
                        c = int(rng.integers(n))
                        if not seen[c]:
                            item = c
                            break
                elif history and rng.random() < (P_STAY_IN_SESSION if in_session else P_STAY_NEW_SESSION):
                    recent = history[-3:][::-1]
                    src = recent[_weighted_index(rng, RECENT_WEIGHTS[:len(recent)])]
                    k = item_topics[src][_weighted_index(rng, item_topic_w[src])]
                    idx, tw = topic_items[k]
                    cand = w_cur[idx] * tw
                    if cand.sum() > 0:
                        item = int(idx[_weighted_index(rng, cand)])
                if item < 0:
                    item = _weighted_index(rng, w_cur)
                seen[item] = True
                w_cur[item] = 0.0
                if next_part[item] >= 0 and not seen[next_part[item]]:
                    w_cur[next_part[item]] = weight[next_part[item]]
                history.append(item)
                latent = (2.5 + 2.2 * match[item] + 0.5 * g_match[item] + quality[item] + user_bias
                          + rng.normal(0.0, 0.75))
                rating = int(min(5, max(1, round(latent))))
                rows_u.append(ui)
                rows_i.append(item)
                rows_r.append(rating)
                rows_t.append(t)
    return rows_u, rows_i, rows_r, rows_t


# ============================================================================= main
def generate(out_dir: Path, seed: int = SEED) -> None:
    """Write items.csv, users.csv and interactions.csv into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    items = _make_items(rng)
    users = _make_users(rng)
    ru, ri, rr, rt = _interactions(rng, items, users)

    items_df = pd.DataFrame({
        "item_id": [it["item_id"] for it in items],
        "title": [it["title"] for it in items],
        "genres": [", ".join(it["genres"]) for it in items],
        "description": [it["description"] for it in items],
        "tags": [", ".join(it["tags"]) for it in items],
        "year": [int(it["year"]) for it in items],
        "language": [it["language"] for it in items],
    })
    users_df = pd.DataFrame({
        "user_id": [u["user_id"] for u in users],
        "age": [u["age"] for u in users],
        "occupation": [u["occupation"] for u in users],
        "country": [u["country"] for u in users],
        "about": [u["about"] for u in users],
    })
    inter_df = pd.DataFrame({
        "user_id": [users[u]["user_id"] for u in ru],
        "item_id": [items[i]["item_id"] for i in ri],
        "rating": np.array(rr, dtype=np.int64),
        "timestamp": np.array(rt, dtype=np.int64),
    }).sort_values(["user_id", "timestamp"], kind="stable")
    for df, name in ((items_df, "items.csv"), (users_df, "users.csv"), (inter_df, "interactions.csv")):
        df.to_csv(out_dir / name, index=False, lineterminator="\n", encoding="utf-8")


if __name__ == "__main__":
    generate(Path(__file__).resolve().parent)
