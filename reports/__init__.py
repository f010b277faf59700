"""The district's reports, read from every domain for the people who plan the service:
how much of the city the 15-minute circle covers (`coverage`), the home-care beds
(`care_beds`), and the plain HTML pages both print as (`pages`). Run by `anxin reports`;
nothing in the product imports it but the composition root."""
