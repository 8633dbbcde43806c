"""First messages as citizens type them (typos, text-speak, street names, filler) find their
service among the top three hits of the packaged catalogue's search.

The wider, scored set is ``test_search_quality.py``; every opening here must pass on its own,
so a catalogue edit that loses one of them fails by name.
"""

from __future__ import annotations

import pytest

from civicdesk_backoffice.catalogue import read_catalogue
from civicdesk_backoffice.search import CatalogueIndex, index_of_entries
from civicdesk_backoffice.settings import DEFAULT_CATALOGUE_PATH

OPENINGS = [
    ("brokn lite xinhua rd", "street_light"),
    ("the bin on my street is overflowing and smells", "litter_bin"),
    ("we just had a baby, how do we register her", "birth_registration"),
    ("I lost my job, is there any support", "unemployment_benefit"),
    ("out of work since march and can't pay the rent", "unemployment_benefit"),
    ("need to renew my driving licence", "driving_licence_renewal"),
    ("how do i get a train ticket to shanghai", "train_ticket"),
    ("get a rail pass for our group of students", "train_ticket"),
    ("the city should put more benches by the river", "public_space_idea"),
    ("noisy neighbours every night", "noise"),
    ("pothole on main st nearly broke my wheel", "road_damage"),
    ("someone dumped a mattress in the alley behind nanjing road", "litter_bin"),
    ("great job fixing the park, thank you", "compliment_service"),
    ("i'd like to suggest longer opening hours at the town hall", "suggestion"),
    ("what goes in the recycling bin", "recycling_information"),
    ("we moved in and need the electricity connected", "utility_connection"),
    ("my water bill is way too high", "utility_bill"),
    ("how do i pay my property tax", "tax_payment"),
    ("do i need a licence for my dog", "pet_licence"),
    ("i need to renew my business licence", "business_licence_renewal"),
    ("i lost my metro card", "bus_pass"),
    ("our wheelie bin went missing after the collection", "bin_request"),
    ("the street bin outside the shop is rammed", "litter_bin"),
    ("is there an allowance for looking after my elderly father", "elderly_care_allowance"),
    ("my gp says i need a referral to a specialist", "specialist_referral"),
    ("i need a repeat prescription", "prescription"),
    ("my car is due for its inspection", "vehicle_inspection"),
    ("how do i get a social security card", "social_security_card"),
    ("where can i collect my new id card", "document_collection"),
    ("i want to book the tennis court on saturday", "sports_facility_booking"),
    ("how do i apply for a library card", "library_card"),
    ("how do we register our marriage", "marriage_certificate"),
]


@pytest.fixture(scope="module")
def index() -> CatalogueIndex:
    catalogue = read_catalogue(DEFAULT_CATALOGUE_PATH)
    return index_of_entries(catalogue.services, catalogue.version)


@pytest.mark.parametrize(("opening", "code"), OPENINGS, ids=[code for _, code in OPENINGS])
def test_opening_finds_its_service_in_the_top_three(
    index: CatalogueIndex, opening: str, code: str
) -> None:
    ranked = [hit.document.code for hit in index.search(opening, 3)]

    assert code in ranked, f"{opening!r}: wanted {code}, got {ranked}"
