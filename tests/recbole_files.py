"""Small RecBole atomic files shaped like RecBole's ml-100k (headers, types and values as RecBole writes them)."""
from __future__ import annotations

ML_USERS = [  # user_id, age, gender, occupation, zip_code (a leading zero must survive)
    ("1", "24", "M", "technician", "85711"),
    ("2", "53", "F", "other", "94043"),
    ("3", "23", "M", "writer", "32067"),
    ("4", "24", "M", "technician", "43537"),
    ("5", "33", "F", "other", "15213"),
    ("6", "42", "M", "executive", "02138"),
]
ML_MOVIES = [  # item_id, movie_title (RecBole tokenises titles into token_seq), release_year, class
    ("1", "Toy Story", "1995", "Animation Children's Comedy"),
    ("2", "GoldenEye", "1995", "Action Adventure Thriller"),
    ("3", "Four Rooms", "1995", "Thriller"),
    ("4", "Get Shorty", "1995", "Action Comedy Drama"),
    ("5", "Copycat", "1995", "Crime Drama Thriller"),
    ("6", "Shanghai Triad (Yao a yao yao dao waipo qiao)", "1995", "Drama"),
    ("7", "Twelve Monkeys", "1995", "Drama Sci-Fi"),
    ("8", "Babe", "1995", "Children's Comedy Drama"),
    ("9", "Dead Man Walking", "1995", "Drama"),
    ("10", "Richard III", "1995", "Drama War"),
    ("11", "Seven (Se7en)", "1995", "Crime Thriller"),
    ("12", "Usual Suspects, The", "1995", "Crime Thriller"),
    ("13", "Mighty Aphrodite", "1995", "Comedy"),
    ("14", "Postino, Il", "1994", "Drama Romance"),
    ("15", "Mr. Holland's Opus", "1995", "Drama"),
    ("16", "French Twist (Gazon maudit)", "1995", "Comedy Romance"),
    ("17", "From Dusk Till Dawn", "1996", "Action Comedy Crime Horror Thriller"),
    ("18", "White Balloon, The", "1995", "Drama"),
    ("19", "Antonia's Line", "1995", "Drama"),
    ("20", "Angels and Insects", "1995", "Drama Romance"),
    ("21", "Muppet Treasure Island", "1996", "Action Adventure Comedy Musical Thriller"),
    ("22", "Braveheart", "1995", "Action Drama War"),
    ("23", "Taxi Driver", "1976", "Drama Thriller"),
    ("24", "Rumble in the Bronx", "1995", "Action Adventure Crime"),
]


def _tsv(header: str, rows) -> bytes:
    return (header + "\n" + "".join("\t".join(row) + "\n" for row in rows)).encode()


ML_INTER = _tsv(
    "user_id:token\titem_id:token\trating:float\ttimestamp:float",
    [
        (user, str((int(user) * 4 + t) % 24 + 1), str(1 + (int(user) + t) % 5), str(881250949 + 3600 * int(user) + 60 * t))
        for user, *_ in ML_USERS
        for t in range(6)
    ],
)
ML_ITEM = _tsv("item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq", ML_MOVIES)
ML_USER = _tsv("user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token", ML_USERS)
