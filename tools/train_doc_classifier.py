#!/usr/bin/python3
"""Trains the browser document classifier (scenario `browser-classifier`, docs/browser-classifier.md).

This is the recipe for the committed model ``models/doc-classifier/doc-classifier.onnx``.

What it makes
-------------
* A labelled set of synthetic business documents in six classes, in this label order:
  ``invoice, contract, cv, report, letter, other``.  Documents come from many templates per
  class with varied phrasing, random people / companies / cities / dates / amounts (some with
  non-ASCII names such as Müller or Łódź), shared vocabulary across classes (letters chasing
  an invoice, reports that mention contracts, cover letters that read like a CV, meeting notes
  that read like a report, ...), noise words, case changes, OCR-like typos and pasted fragments,
  from a single line to about 2 KB.  "other" is everything else: recipes, news snippets,
  meeting notes, chats about lunch, shopping lists, reviews, ...  The set is split, stratified,
  into a training set (``--train-per-class``, 500 per class by default) and a held-out set
  (``--heldout-per-class``, 100 per class).
* Features: ``keel-hashed-bow-v1`` (4096 dims, at most 4096 tokens; see ``featurize``), the
  same function Keel's JavaScript worker and C++ server implement.
* A two-layer MLP 4096 -> 64 (ReLU) -> 6 (softmax), trained with numpy (mini-batch Adam,
  cross-entropy, a little L2 weight decay).
* Outputs (paths are flags):
    --model-out     models/doc-classifier/doc-classifier.onnx   (opset 13, IR 8: features
                    [batch, 4096] -> Gemm -> Relu -> Gemm -> Softmax -> probabilities [batch, 6],
                    keel.* metadata; unsigned -- ``keel model sign`` publishes it)
    --heldout-out   examples/browser-classifier/heldout.jsonl   ({"text", "label"} per line)
    --report-out    models/doc-classifier/training-report.json  (sizes, accuracies, confusion)
    --vectors-out   tests/edge/data/featurizer_oracle.json      (cross-language oracle: the
                    first 20 held-out documents with their non-zero features and the expected
                    probabilities, plus a few featurizer edge cases; ``--vectors-out ''`` skips)

How to run (from the repository root; only Debian's python3 with numpy and python3-onnx)::

    /usr/bin/python3 tools/train_doc_classifier.py            # about 10-30 s on 2 cores
    /usr/bin/python3 tools/train_doc_classifier.py --seed 7 --model-out /tmp/m.onnx ...

Everything is seeded (``--seed``, default 20240611): data, split, initialisation and batch order.
BLAS is pinned to one thread so that two runs give the same bytes.  After exporting, the
script re-reads the ONNX file, checks it with ``onnx.checker`` and re-computes the held-out
accuracy from the file's own weights with numpy.
"""

import os

# One BLAS thread: reproducible sums (and the matrices are small).  Must precede numpy's import.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import helper, numpy_helper, TensorProto  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

LABELS = ["invoice", "contract", "cv", "report", "letter", "other"]
MODEL_ID = "doc-classifier"
MODEL_VERSION = "1"
FEATURIZER = {"name": "keel-hashed-bow-v1", "dims": 4096, "max_tokens": 4096}
DIMS = FEATURIZER["dims"]
MAX_TOKENS = FEATURIZER["max_tokens"]


def log(msg):
    print("[train_doc_classifier %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------
# Featurizer keel-hashed-bow-v1
# ----------------------------------------------------------------------------------------------

FNV_OFFSET = 2166136261
FNV_PRIME = 16777619
_TOKEN_RE = re.compile(rb"[a-zA-Z0-9\x80-\xff]+")


def _fnv1a(data, h=FNV_OFFSET):
    """FNV-1a 32-bit of ``data`` (bytes), continuing from state ``h``."""
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & 0xFFFFFFFF
    return h


def tokenize(text, max_tokens=MAX_TOKENS):
    """The featurizer's tokens (bytes): maximal runs of token bytes (a-z, 0-9, >= 0x80, and A-Z
    lower-cased) of the UTF-8 encoding; every other byte separates; at most ``max_tokens``."""
    tokens = []
    for m in _TOKEN_RE.finditer(text.encode("utf-8")):
        if len(tokens) >= max_tokens:
            break
        tokens.append(m.group(0).lower())  # bytes.lower() changes only A-Z
    return tokens


def featurize(text, dims=DIMS, max_tokens=MAX_TOKENS):
    """keel-hashed-bow-v1, exactly as docs/browser-classifier.md specifies it.

    1. UTF-8 bytes of ``text``.
    2. Tokens: maximal runs of token bytes (``a-z``, ``0-9``, any byte >= 0x80, ``A-Z`` lower-
       cased); any other byte separates; stop after ``max_tokens`` tokens.
    3. FNV-1a 32-bit (offset 2166136261, prime 16777619, mod 2^32).  For token i,
       ``counts[fnv1a(t_i) % dims] += 1``; for i >= 1 also
       ``counts[fnv1a(t_{i-1} + b" " + t_i) % dims] += 1``.
    4. ``x[j] = log1p(counts[j])`` in double; ``norm = sqrt(sum_j x[j]^2)`` summed in index
       order j = 0, 1, ...; if norm > 0, ``x[j] /= norm`` (double); the result is cast to float32.

    Returns a float32 numpy vector of length ``dims``.  (Hashing the bigram continues the FNV
    state of t_{i-1} with 0x20 and t_i's bytes, which is the same as hashing the joined bytes.)
    """
    counts = {}
    prev_state = None
    for tok in tokenize(text, max_tokens):
        h = _fnv1a(tok)
        j = h % dims
        counts[j] = counts.get(j, 0) + 1
        if prev_state is not None:
            j = _fnv1a(tok, _fnv1a(b" ", prev_state)) % dims
            counts[j] = counts.get(j, 0) + 1
        prev_state = h
    idx = sorted(counts)
    vals = [math.log1p(counts[j]) for j in idx]
    norm_sq = 0.0
    for v in vals:  # ascending j; the zero entries add nothing
        norm_sq += v * v
    norm = math.sqrt(norm_sq)
    x = np.zeros(dims, dtype=np.float32)
    if norm > 0:
        x[idx] = np.array([v / norm for v in vals], dtype=np.float64).astype(np.float32)
    return x


def featurize_all(texts):
    X = np.zeros((len(texts), DIMS), dtype=np.float32)
    for i, t in enumerate(texts):
        X[i] = featurize(t)
    return X


# ----------------------------------------------------------------------------------------------
# Synthetic documents
# ----------------------------------------------------------------------------------------------

FIRST = """Anna James Maria Thomas Sofia Lukas Emma Oliver Chen Priya Ahmed Fatima Jürgen Zoë François Søren
José Małgorzata Ines Kenji Olga David Sarah Michael Laura Pedro Hannah Noah Amelia Raj Elena Mateo Aisha
Tomasz Björn Chloé Ewa Liam Grace Daniel Yuki Nikolai Carmen Samuel Lea Marco Agnieszka Wei Kwame Ana
Henrik Ingrid Pavel Rachel Omar Siobhan Hugo Marta Felix Nora Jakub Lucía Peter Ruth Ali Julia""".split()
LAST = """Müller Schmidt Smith Johnson García Kowalski Nowak Dubois Rossi Jensen Novák Dvořák Williams Brown
Tanaka Patel Khan Okafor Silva Andersson Fischer Weber Łukasik Zieliński O'Brien Murphy Lee Wong Martin
Bernard Hoffmann Schäfer Costa Ferreira Lindqvist Petrov Ivanova Nguyen Taylor Evans Moreau Kovač Horváth
Öztürk Yılmaz Becker Wagner Jones Clarke Haddad Mensah Kim Park Larsen Berg Fontaine Romano""".split()
CO_HEAD = """Acme Northwind Globex Initech Kestrel Meridian Polaris Brightline Helios Vantage Oakridge Nordlicht
Alpenglow Silverleaf Ironbridge Crescent Lumen Orbital Redwood Sterling Tidewater Fjordline Bauer Sunbeam
Granite Copperfield Zephyr Atlas Mosaic Pinecrest Wisła Rhein Danube Aurora Blackwood Summit Everest
Harborview Falcon Cobalt Verde Lighthouse Saffron Nimbus Quarry""".split()
CO_MID = ["", "", "", " Blue", " Green", " North", " Digital", " Bio", " Data", " Marine", " Food", " Energy"]
CO_TAIL = ["Ltd", "GmbH", "Inc.", "LLC", "S.A.", "Sp. z o.o.", "AG", "B.V.", "plc", "Group", "Consulting",
           "Logistics", "Systems", "Partners", "Solutions", "Holdings", "& Co.", "Industries", "Labs", "SAS"]
CITIES = """Berlin|München|Łódź|Kraków|Zürich|London|Manchester|Paris|Lyon|Madrid|São Paulo|Amsterdam|Rotterdam|
Vienna|Prague|Brno|Copenhagen|Malmö|Oslo|Dublin|New York|Chicago|Toronto|Warsaw|Milan|Lisbon|Göteborg|
Helsinki|Brussels|Reykjavík|Düsseldorf|Gdańsk|Kraków|Bordeaux|Sevilla|Porto|Leeds|Austin|Seattle""".replace(
    "\n", "").split("|")
STREETS = ["Main Street", "Hauptstraße", "Rue de la Paix", "Calle Mayor", "ul. Piotrkowska", "Baker Street",
           "Market Square", "Königsallee", "Station Road", "Church Lane", "Oak Avenue", "Industrial Park Rd",
           "Friedrichstraße", "Via Roma", "Långgatan", "High Street", "Elm Drive", "Harbour Quay"]
COUNTRIES = ["Germany", "Poland", "United Kingdom", "France", "Spain", "Switzerland", "Netherlands", "Sweden",
             "Denmark", "Ireland", "USA", "Canada", "Portugal", "Austria", "Czech Republic", "Italy"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
PRODUCTS = ["consulting services", "software licence (annual)", "cloud hosting", "office chairs", "laptop stand",
            "printer toner", "website maintenance", "translation services", "training workshop", "legal advice",
            "catering", "freight transport", "warehouse storage", "graphic design", "SEO audit", "server rack",
            "support hours", "travel expenses", "conference tickets", "security audit", "data migration",
            "cleaning services", "marketing campaign", "copy paper A4", "USB-C cables", "desk lamps",
            "API usage", "photography", "event venue hire", "licence renewal", "hardware repair"]
ROLES = ["Software Engineer", "Project Manager", "Accountant", "Data Analyst", "Sales Manager", "Marketing Lead",
         "Office Manager", "HR Business Partner", "Product Designer", "Financial Controller", "Logistics Coordinator",
         "Legal Counsel", "Customer Success Manager", "DevOps Engineer", "Research Assistant", "Chef de Partie",
         "Nurse", "Teacher", "Electrical Engineer", "Procurement Specialist", "Operations Director", "Intern"]
SKILLS = ["Python", "SQL", "Excel", "SAP", "project management", "negotiation", "Java", "C++", "Kubernetes",
          "financial modelling", "public speaking", "German (fluent)", "Polish (native)", "French (B2)",
          "Spanish (C1)", "Agile / Scrum", "Power BI", "Tableau", "customer service", "contract law", "IFRS",
          "budgeting", "team leadership", "UX research", "Figma", "AWS", "Linux", "payroll", "bookkeeping",
          "stakeholder management", "copywriting", "machine learning", "Salesforce", "first aid"]
DEGREES = ["BSc Computer Science", "MSc Economics", "BA English Literature", "MBA", "BEng Mechanical Engineering",
           "LLM Commercial Law", "MSc Data Science", "BA Business Administration", "PhD Chemistry",
           "Diploma in Accounting", "BSc Nursing", "MA International Relations"]
UNIS = ["University of Łódź", "TU München", "University of Manchester", "Sorbonne Université", "ETH Zürich",
        "Universidad Complutense de Madrid", "University College Dublin", "Charles University", "KTH Stockholm",
        "University of Toronto", "Jagiellonian University", "Universität Wien", "Politecnico di Milano"]
DEPTS = ["Finance", "Sales", "Operations", "IT", "HR", "Marketing", "Customer Support", "Legal", "Procurement",
         "Logistics", "R&D", "Facilities"]
PROJECTS = ["Phoenix", "Atlas migration", "ERP rollout", "website relaunch", "warehouse automation",
            "customer portal", "Q3 cost review", "Nordic expansion", "CRM upgrade", "data platform", "rebranding"]
FOODS = ["pizza", "sushi", "pierogi", "tacos", "ramen", "falafel", "schnitzel", "curry", "salad", "burgers",
         "pho", "dumplings", "kebab", "pasta", "bibimbap", "fish and chips", "poke bowls", "currywurst"]
NOISE = ["page 1 of 2", "CONFIDENTIAL", "scan0042.pdf", "Sent from my iPhone", "---", "***", "[image]", "n/a",
         "printed 2024-02-01 09:14", "draft v2", "www", "cc:", "fwd:", "re:", "ok", "see attached", "tbd", "xx",
         "p.2", "ref.", "copy", "#", "—", "•", "ID 7781", "approved", "internal use only", "FYI", "etc.",
         "thanks", "pls", "asap", "q.v.", "note", "update", "v1.3", "final_FINAL.docx", "misc"]


class Gen:
    """Random building blocks for documents, all from one seeded ``random.Random``."""

    def __init__(self, rng):
        self.r = rng

    def pick(self, seq):
        return seq[self.r.randrange(len(seq))]

    def chance(self, p):
        return self.r.random() < p

    def first(self):
        return self.pick(FIRST)

    def last(self):
        return self.pick(LAST)

    def name(self):
        n = self.first() + " " + self.last()
        if self.chance(0.1):
            n = self.pick(["Dr. ", "Mr. ", "Ms. ", "Prof. ", "Mrs. "]) + n
        return n

    def company(self):
        return (self.pick(CO_HEAD) + self.pick(CO_MID) + " " + self.pick(CO_TAIL)).strip()

    def city(self):
        return self.pick(CITIES)

    def address(self, lines=True):
        parts = ["%s %d" % (self.pick(STREETS), self.r.randint(1, 220)),
                 "%s %s" % (self.postcode(), self.city())]
        if self.chance(0.5):
            parts.append(self.pick(COUNTRIES))
        return ("\n" if lines else ", ").join(parts)

    def postcode(self):
        return self.pick(["%05d" % self.r.randint(1000, 99999), "%02d-%03d" % (self.r.randint(10, 99), self.r.randint(0, 999)),
                          "%04d" % self.r.randint(1000, 9999), "SW%d %dAB" % (self.r.randint(1, 20), self.r.randint(1, 9))])

    def date(self):
        y, m, d = self.r.randint(2019, 2025), self.r.randint(1, 12), self.r.randint(1, 28)
        f = self.r.randrange(7)
        if f == 0:
            return "%04d-%02d-%02d" % (y, m, d)
        if f == 1:
            return "%02d/%02d/%04d" % (d, m, y)
        if f == 2:
            return "%s %d, %d" % (MONTHS[m - 1], d, y)
        if f == 3:
            return "%d %s %d" % (d, MONTHS[m - 1], y)
        if f == 4:
            return "%02d.%02d.%04d" % (d, m, y)
        if f == 5:
            return "%s %d %d" % (MONTHS[m - 1][:3], d, y)
        return "%d/%d/%02d" % (m, d, y % 100)

    def year(self):
        return str(self.r.randint(2005, 2025))

    def month(self):
        return self.pick(MONTHS)

    def quarter(self):
        return "Q%d %d" % (self.r.randint(1, 4), self.r.randint(2019, 2025))

    def money(self, lo=10, hi=50000):
        v = self.r.uniform(lo, hi)
        if self.chance(0.3):
            v = round(v, -1)
        s = "{:,.2f}".format(v)
        f = self.r.randrange(8)
        if f == 0:
            return "€" + s
        if f == 1:
            return "$" + s
        if f == 2:
            return "£" + s
        if f == 3:
            return s.replace(",", " ").replace(".", ",") + " EUR"
        if f == 4:
            return "USD " + s
        if f == 5:
            return "PLN " + s.replace(",", " ").replace(".", ",")
        if f == 6:
            return "CHF " + s
        return s + " €"

    def pct(self):
        return "%.1f%%" % self.r.uniform(-15, 45)

    def num(self, lo=1, hi=99):
        return str(self.r.randint(lo, hi))

    def invno(self):
        return self.pick(["INV-%d-%04d", "%d/%04d", "RE%d%04d", "#%d-%04d", "F%d-%04d"]) % (
            self.r.randint(2019, 2025), self.r.randint(1, 9999))

    def email(self, name=None):
        name = name or self.name()
        user = re.sub(r"[^a-z.]", "", name.lower().replace(" ", ".").replace("dr.", "").replace("ms.", ""))
        dom = re.sub(r"[^a-z]", "", self.pick(CO_HEAD).lower()) + self.pick([".com", ".de", ".pl", ".co.uk", ".eu", ".fr"])
        return user.strip(".") + "@" + dom

    def phone(self):
        return "+%d %d %03d %04d" % (self.r.choice([44, 49, 48, 33, 34, 1, 41, 46]), self.r.randint(10, 999),
                                     self.r.randint(0, 999), self.r.randint(0, 9999))

    def iban(self):
        return "%s%02d %04d %04d %04d %04d %02d" % (self.pick(["DE", "PL", "GB", "FR", "NL", "ES"]),
                                                    self.r.randint(10, 99), self.r.randint(0, 9999),
                                                    self.r.randint(0, 9999), self.r.randint(0, 9999),
                                                    self.r.randint(0, 9999), self.r.randint(0, 99))

    def fill(self, template, ctx=None):
        """Replaces ``{key}`` with ctx[key] if given, else a fresh value of the generator ``key``."""
        ctx = ctx or {}

        def sub(m):
            k = m.group(1)
            if k in ctx:
                return ctx[k]
            return str(getattr(self, k)())
        return re.sub(r"\{(\w+)\}", sub, template)

    def product(self):
        return self.pick(PRODUCTS)

    def country(self):
        return self.pick(COUNTRIES)

    def degree(self):
        return self.pick(DEGREES)

    def unis(self):
        return self.pick(UNIS)

    def street(self):
        return self.pick(STREETS)

    def role(self):
        return self.pick(ROLES)

    def skill(self):
        return self.pick(SKILLS)

    def dept(self):
        return self.pick(DEPTS)

    def project(self):
        return self.pick(PROJECTS)

    def food(self):
        return self.pick(FOODS)

    def weekday(self):
        return self.pick(WEEKDAYS)

    def time(self):
        return "%d:%02d" % (self.r.randint(7, 18), self.r.choice([0, 15, 30, 45]))

    def sentences(self, bank, lo, hi, ctx=None):
        k = self.r.randint(lo, hi)
        picked = self.r.sample(bank, min(k, len(bank)))
        return [self.fill(s, ctx) for s in picked]

    def para(self, bank, lo, hi, ctx=None):
        return " ".join(self.sentences(bank, lo, hi, ctx))


# ---- sentence banks (placeholders are Gen methods or context keys) ---------------------------

INVOICE_TITLES = ["INVOICE", "Invoice", "TAX INVOICE", "Rechnung / Invoice", "Commercial Invoice", "Sales Invoice",
                  "PRO FORMA INVOICE", "Faktura VAT", "Facture", "Bill", "Invoice (copy)", "CREDIT NOTE",
                  "Final invoice", "Statement of account"]
INVOICE_TERMS = [
    "Payment due within {num} days of the invoice date.",
    "Please pay the total amount by {date} to the account below.",
    "Terms: net 30. Late payments incur interest of 1.5% per month.",
    "Please quote the invoice number with your payment.",
    "Thank you for your business!",
    "VAT reverse charge applies (Art. 196 Directive 2006/112/EC).",
    "Payment by bank transfer only. Cheques are not accepted.",
    "All amounts in the currency shown. Bank charges are borne by the payer.",
    "This invoice was generated electronically and is valid without signature.",
    "Goods remain our property until paid in full.",
    "Questions about this bill? Contact accounts@{co_dom} or call {phone}.",
    "A 2% discount applies if paid within 10 days.",
    "Please remit payment to IBAN {iban}, BIC {bic}.",
    "Reference your customer number {num} on all payments.",
    "Amount outstanding from previous statement: {money}.",
]
CONTRACT_TITLES = ["SERVICE AGREEMENT", "Non-Disclosure Agreement", "MUTUAL NON-DISCLOSURE AGREEMENT",
                   "Employment Contract", "Master Services Agreement", "Lease Agreement", "Consulting Agreement",
                   "Software Licence Agreement", "Amendment No. {num} to the Supply Agreement",
                   "Statement of Work", "Data Processing Agreement", "Distribution Agreement",
                   "Freelance Contract", "Purchase Agreement", "Agreement", "Terms and Conditions of Sale"]
CONTRACT_CLAUSES = [
    "This Agreement shall commence on the Effective Date and continue for a period of {num} months unless terminated earlier in accordance with its terms.",
    "Either party may terminate this Agreement by giving {num} days' written notice to the other party.",
    "The Receiving Party shall hold the Confidential Information in strict confidence and shall not disclose it to any third party without prior written consent.",
    "This Agreement shall be governed by and construed in accordance with the laws of {country}.",
    "The Supplier shall indemnify the Customer against all losses, claims and liabilities arising from any breach of this Agreement.",
    "The Customer shall pay the fees set out in Schedule 1 within {num} days of receipt of a valid invoice.",
    "Neither party shall be liable for any failure or delay caused by events beyond its reasonable control (force majeure).",
    "The Employee shall devote the whole of their working time to the duties of {role}.",
    "All intellectual property rights in the Deliverables shall vest in the Client upon full payment.",
    "The Tenant shall pay a monthly rent of {money} in advance on the first day of each month.",
    "Any dispute arising out of or in connection with this Agreement shall be referred to arbitration in {city}.",
    "This Agreement constitutes the entire agreement between the parties and supersedes all prior negotiations.",
    "No amendment to this Agreement shall be effective unless made in writing and signed by both parties.",
    "The Contractor is an independent contractor and nothing herein shall create an employment relationship.",
    "The Processor shall process Personal Data only on documented instructions from the Controller.",
    "The total liability of either party shall not exceed the fees paid in the twelve (12) months preceding the claim.",
    "The probationary period shall be {num} months, during which either party may terminate with one week's notice.",
    "The Licensee may not sublicense, sell or otherwise transfer the Software.",
    "Notices under this Agreement shall be sent to the addresses set out above or by email to {email}.",
    "Failure to exercise any right under this Agreement shall not constitute a waiver of that right.",
    "If any provision is held invalid, the remaining provisions shall continue in full force and effect.",
    "The Supplier shall maintain insurance cover of not less than {money} per claim.",
    "The annual salary shall be {money}, payable monthly in arrears.",
    "Service levels are defined in Annex B; service credits are the Customer's sole remedy for a missed service level.",
]
CONTRACT_HEADINGS = ["1. Definitions", "2. Term", "3. Services", "4. Fees and Payment", "5. Confidentiality",
                     "6. Termination", "7. Liability", "8. Governing Law", "9. Miscellaneous", "Article {num}",
                     "Clause {num}", "§ {num}", "Schedule 1", "Recitals"]
CV_SUMMARY = [
    "Results-driven {role} with {num} years of experience in {dept} and a track record of delivering projects on time.",
    "Detail-oriented professional seeking a position as {role} in a growing organisation.",
    "Bilingual {role} experienced in cross-functional teams, budgets of up to {money} and international clients.",
    "Recent graduate ({degree}) with internship experience at {company}.",
    "Passionate about data, automation and continuous improvement.",
    "Certified in {skill}; comfortable presenting to senior stakeholders.",
    "Looking for new challenges in {city} or remote.",
    "Experienced in drafting and negotiating supplier contracts and preparing monthly reports.",
]
CV_BULLETS = [
    "Led a team of {num} people responsible for {dept}.",
    "Reduced invoice processing time by {pct} by introducing {skill}.",
    "Managed vendor contracts worth {money} per year.",
    "Prepared monthly management reports for the board.",
    "Implemented {project} on schedule and under budget.",
    "Trained {num} new colleagues on {skill}.",
    "Handled customer correspondence and complaints.",
    "Built dashboards in {skill} used by {num} managers.",
    "Coordinated shipments across {num} countries.",
    "Increased sales in the {city} region by {pct}.",
    "Responsible for month-end closing and reconciliation.",
    "Designed and shipped the {project} feature set.",
    "Mentored junior staff and ran weekly stand-ups.",
    "Negotiated a new lease for the {city} office.",
]
CV_HEADINGS_EXP = ["Work Experience", "EXPERIENCE", "Professional Experience", "Employment History", "Career"]
CV_HEADINGS_EDU = ["Education", "EDUCATION", "Qualifications", "Academic Background"]
CV_HEADINGS_SKILL = ["Skills", "Key Skills", "SKILLS & LANGUAGES", "Competencies", "Technical Skills"]
REPORT_TITLES = ["Quarterly Report {quarter}", "Monthly Status Report - {month}", "Project Status Report: {project}",
                 "Incident Report", "Internal Audit Report", "Annual Report {year}", "Market Analysis: {city}",
                 "Sales Performance Report", "Sustainability Report {year}", "Risk Assessment",
                 "Customer Satisfaction Survey - Results", "{dept} KPI Report", "Post-Mortem: {project}",
                 "Expense Report Summary", "Due Diligence Report"]
REPORT_SENTENCES = [
    "Revenue for the period reached {money}, an increase of {pct} compared to the previous quarter.",
    "Operating costs rose by {pct}, mainly due to higher energy prices and logistics costs.",
    "The {project} project is {num}% complete and remains on track for delivery in {month}.",
    "Three key risks were identified; mitigation actions are listed in Appendix A.",
    "Customer satisfaction (NPS) improved from {num} to {num}.",
    "The audit found that {num} of {num} sampled invoices lacked a valid purchase order.",
    "Headcount in {dept} grew to {num} FTE.",
    "We recommend renegotiating the supplier contracts that expire in {year}.",
    "Figure {num} shows the monthly trend of orders by region.",
    "On {date} at {time} the payment service was unavailable for {num} minutes; the root cause was an expired certificate.",
    "Accounts receivable older than 90 days amount to {money}.",
    "The survey received {num}0 responses (response rate {pct}).",
    "Table {num} summarises the budget versus actual spend per department.",
    "In conclusion, the results support continuing the pilot in {city}.",
    "Gross margin decreased to {pct} as discounts were extended to key accounts.",
    "The methodology combined interviews with {num} stakeholders and an analysis of transaction data.",
    "Compliance with the contract service levels was {pct} against a target of 99.5%.",
    "Next steps: finalise the vendor shortlist and present findings to the steering committee.",
    "CO2 emissions per unit shipped fell by {pct} year on year.",
    "The backlog at period end stood at {num}0 orders worth {money}.",
    "Market share in {country} is estimated at {pct}.",
    "Staff turnover was {pct}, below the industry average.",
]
REPORT_HEADINGS = ["Executive Summary", "1. Introduction", "2. Methodology", "3. Findings", "4. Recommendations",
                   "Key Metrics", "Financial Overview", "Risks and Issues", "Conclusion", "Background",
                   "Timeline", "Appendix A", "Highlights", "Outlook", "Root Cause", "Actions"]
LETTER_OPEN = ["Dear {name},", "Dear Sir or Madam,", "Dear Mr. {last},", "Dear Ms. {last},", "Dear Hiring Manager,",
               "To whom it may concern,", "Dear {first},", "Dear Customer,", "Dear colleagues,", "Dear Dr. {last},"]
LETTER_CLOSE = ["Yours sincerely,", "Yours faithfully,", "Kind regards,", "Best regards,", "Sincerely,",
                "With best wishes,", "Respectfully,", "Warm regards,", "Mit freundlichen Grüßen,", "Regards,"]
LETTER_BODIES = {
    "complaint": [
        "I am writing to complain about the delivery of {product} that arrived on {date}.",
        "Several items were damaged and the packaging was clearly inadequate.",
        "I have contacted your customer service twice without receiving a reply.",
        "I would be grateful if you could arrange a replacement or a full refund.",
        "I trust you will resolve this matter promptly.",
    ],
    "reference": [
        "It is my pleasure to recommend {name}, who worked with us as {role} from {year} to {year}.",
        "During that time they showed excellent judgement, reliability and a positive attitude.",
        "They were responsible for key accounts and consistently exceeded their targets.",
        "I have no hesitation in recommending them for any position of responsibility.",
        "Please do not hesitate to contact me should you require further information.",
    ],
    "resignation": [
        "Please accept this letter as formal notice of my resignation from the position of {role}.",
        "My last working day will be {date}, in line with the notice period in my contract.",
        "I am grateful for the opportunities I have had during my time at {company}.",
        "I will do everything I can to ensure a smooth handover of my responsibilities.",
    ],
    "reminder": [
        "Our records show that invoice {invno} dated {date} for {money} remains unpaid.",
        "We would kindly ask you to settle the outstanding balance within seven days.",
        "If you have already made the payment, please disregard this letter.",
        "Should you have any questions regarding this account, please contact our accounts department.",
        "We value our business relationship and hope to resolve this quickly.",
    ],
    "termination": [
        "We hereby give notice of termination of the service contract dated {date}.",
        "In accordance with the contract, the termination takes effect on {date}.",
        "Please confirm receipt of this notice in writing.",
        "We thank you for your cooperation over the past years.",
    ],
    "cover": [
        "I am writing to apply for the position of {role} advertised on your website.",
        "With {num} years of experience in {dept} and strong skills in {skill}, I believe I would be a valuable addition to your team.",
        "In my current role at {company} I manage supplier relationships and prepare monthly reports.",
        "Please find my CV enclosed. I would welcome the opportunity to discuss my application.",
        "Thank you for considering my application.",
    ],
    "offer": [
        "We are delighted to offer you the position of {role} at {company}, starting on {date}.",
        "Your starting salary will be {money} per year, and the full terms are set out in the enclosed contract.",
        "Please sign and return a copy of this letter by {date} to confirm your acceptance.",
        "We look forward to welcoming you to the team.",
    ],
    "info": [
        "We are pleased to inform you that our office will move to {street_addr} from {date}.",
        "Our phone numbers and bank details remain unchanged.",
        "We would like to thank you for your continued trust in {company}.",
        "Please update your records accordingly.",
    ],
    "request": [
        "Following our telephone conversation on {date}, I am writing to request a quotation for {product}.",
        "Could you also let us know your delivery times to {city}?",
        "We would appreciate receiving your offer by {date}.",
        "Thank you in advance for your assistance.",
    ],
    "condolence": [
        "We were deeply saddened to hear of the passing of your colleague {name}.",
        "On behalf of everyone at {company}, please accept our heartfelt condolences.",
        "Our thoughts are with you and your team at this difficult time.",
    ],
    "apology": [
        "Thank you for your letter of {date} regarding the incorrect invoice you received.",
        "Please accept our sincere apologies for the inconvenience caused.",
        "A corrected invoice has been issued and the credit of {money} applied to your account.",
        "We have reviewed our procedures to avoid this in future.",
    ],
}
OTHER_KINDS = ["recipe", "news", "meeting", "lunch", "shopping", "review", "todo", "chat", "weather", "sports",
               "event", "poem", "faq", "forum", "travel", "memo_lost"]


def _case(g, s):
    if g.chance(0.5):
        return s
    return s.upper() if g.chance(0.5) else s.title()


def gen_invoice(g):
    seller, buyer = g.company(), g.company()
    ctx = {"co_dom": re.sub(r"[^a-z]", "", seller.lower())[:12] + ".com", "bic": "%sXX%d" % (
        re.sub(r"[^A-Z]", "", seller.upper())[:4].ljust(4, "X"), g.r.randint(10, 99))}
    style = g.r.randrange(6)
    if style == 5:  # short notification / one-liner
        return g.fill(g.pick([
            "Invoice {invno} from {company}: {money} due {date}.",
            "{company} invoice no. {invno} - total {money} (incl. VAT) - due date {date}",
            "Your invoice {invno} is ready. Amount due: {money}. Pay by {date}. Questions? accounts@{co_dom}",
            "INVOICE {invno}\nTotal due: {money}\nDue: {date}",
            "Bill to: {company}. Invoice date {date}. Balance due {money}.",
            "credit note {invno} ref invoice {invno}: -{money}",
            "Receipt {invno} - paid {money} by card on {date}. Thank you!",
            "Invoice attached for {product}, {money}, net 30.",
        ]), ctx)
    lines = []
    title = g.fill(g.pick(INVOICE_TITLES))
    if style == 0:
        lines += [seller, g.address(), "VAT ID: %s%09d" % (g.pick(["DE", "PL", "GB", "FR"]), g.r.randint(0, 10**9 - 1)), "",
                  title, g.fill("Invoice No.: {invno}"), g.fill("Invoice Date: {date}"), g.fill("Due Date: {date}"),
                  "", "Bill To:", buyer, g.address(), ""]
    elif style == 1:
        lines += [title + " " + g.invno(), g.fill("Date {date}"), "From: " + seller + ", " + g.address(False),
                  "To: " + buyer + ", " + g.address(False), ""]
    elif style == 2:
        lines += [seller.upper(), g.fill("{street_addr} | {phone} | {email}", {"street_addr": g.address(False)}), "",
                  g.fill("%s #{invno}" % title), g.fill("Customer: {company} (customer no. {num}{num})"),
                  g.fill("Order ref: PO-{num}{num}{num}   Delivery date: {date}"), ""]
    elif style == 3:
        lines += [g.fill("{company}"), title, g.fill("Number: {invno}   Date: {date}"), "Client: " + g.name(), ""]
    else:
        lines += [g.fill("Dear {first},"), g.fill("please find below our invoice {invno} for the services provided in {month}."), ""]
    header = g.pick(["Description  Qty  Unit price  Amount", "Item | Quantity | Price | Total", "Pos. Description Qty Rate Net",
                     "DESCRIPTION QTY AMOUNT", ""])
    if header:
        lines.append(header)
    total = 0.0
    for i in range(g.r.randint(1, 9)):
        q, p = g.r.randint(1, 40), g.r.uniform(5, 2500)
        total += q * p
        fmt = g.r.randrange(3)
        if fmt == 0:
            lines.append("%d. %s  %d  %.2f  %.2f" % (i + 1, g.product(), q, p, q * p))
        elif fmt == 1:
            lines.append("%s | %d | %s | %s" % (g.product(), q, "%.2f" % p, "%.2f" % (q * p)))
        else:
            lines.append("%s x%d @ %.2f = %.2f" % (g.product(), q, p, q * p))
    vat = g.pick([0.19, 0.23, 0.2, 0.21, 0.0, 0.081])
    lines += ["", "Subtotal: %.2f" % total, "VAT %d%%: %.2f" % (round(vat * 100), total * vat),
              g.pick(["TOTAL DUE: ", "Total: ", "Amount due ", "Balance due: ", "Grand total "]) + g.money(total * 0.5, total * 1.5 + 1), ""]
    lines += g.sentences(INVOICE_TERMS, 1, 4, ctx)
    if g.chance(0.5):
        lines.append(g.fill("Bank: {company} Bank, IBAN {iban}"))
    if style == 4:
        lines += ["", g.pick(LETTER_CLOSE), g.name(), seller]
    return "\n".join(lines)


def gen_contract(g):
    a, b = g.company(), g.pick([g.company(), g.name()])
    style = g.r.randrange(5)
    if style == 4:  # a clause or two, pasted
        return "\n".join(g.sentences(CONTRACT_CLAUSES, 1, 3)) if g.chance(0.5) else g.fill(g.pick([
            "{company} and {name} agree as follows: ", "Contract ref. C-{num}{num} between {company} and {company}. ",
            "Section {num}. ", "", "The parties agree that "])) + g.para(CONTRACT_CLAUSES, 1, 2)
    lines = [g.fill(g.pick(CONTRACT_TITLES))]
    intro = g.pick([
        "This Agreement is made on {date} between {a}, with its registered office at {addr} (\"the Supplier\"), and {b} (\"the Customer\").",
        "THIS CONTRACT is entered into as of {date} (the \"Effective Date\") by and between {a} and {b} (each a \"Party\").",
        "Between: {a} (the Employer) and {b} (the Employee).",
        "Parties: (1) {a}; (2) {b}. Date: {date}.",
        "{a} (\"Licensor\") grants {b} (\"Licensee\") a non-exclusive licence on the terms below.",
    ])
    lines.append(g.fill(intro, {"a": a, "b": b, "addr": g.address(False)}))
    if g.chance(0.4):
        lines.append("WHEREAS the parties wish to set out the terms on which " + g.pick(
            ["the services will be provided", "confidential information will be exchanged", "the premises are let",
             "the employee is engaged", "the goods will be supplied"]) + "; NOW, THEREFORE, the parties agree as follows:")
    heads = g.r.sample(CONTRACT_HEADINGS, g.r.randint(0, 6))
    clauses = g.sentences(CONTRACT_CLAUSES, 2, 14)
    for i, c in enumerate(clauses):
        if i < len(heads) and g.chance(0.7):
            lines.append(g.fill(heads[i]))
        lines.append(("%d.%d " % (i + 1, g.r.randint(1, 4)) if style == 0 else "") + c)
    if g.chance(0.7):
        lines += ["", g.pick(["IN WITNESS WHEREOF the parties have signed this Agreement on the date first written above.",
                              "Signed for and on behalf of:", "Signatures:", "Agreed and accepted:"]),
                  g.fill("{a}: ____________ {name}, {role}", {"a": a}),
                  g.fill("{b}: ____________ Date: {date}", {"b": b})]
    return "\n".join(lines)


def gen_cv(g):
    name = g.name()
    style = g.r.randrange(5)
    contact = g.pick(["{email} | {phone} | {city}", "Email: {email}\nPhone: {phone}\nAddress: {addr}",
                      "{city}, {country} · {email} · linkedin.com/in/{slug}", "Tel. {phone}"])
    contact = g.fill(contact, {"email": g.email(name), "addr": g.address(False), "slug": name.lower().replace(" ", "-"),
                               "country": g.pick(COUNTRIES)})
    if style == 4:  # short bio / profile snippet
        return g.fill(g.pick([
            "{name} - {role}. {num} years experience. Skills: {skill}, {skill}, {skill}.",
            "Profile: {role} based in {city}. Previously at {company} and {company}. {degree}, {unis}.",
            "{name}\n{role} | {skill} | {skill}\nOpen to work",
            "About me: I am a {role} with a background in {dept}. Languages: English, {skill}.",
        ]), {"name": name, "unis": g.pick(UNIS)})
    lines = [_case(g, name), g.role() if g.chance(0.6) else "Curriculum Vitae", contact, ""]
    if g.chance(0.15):
        lines += [g.fill("I am a {role} looking for a new position in {city}. I have worked in {dept} for {num} years "
                         "and enjoy working with people."), ""]
    if g.chance(0.7):
        lines += [g.pick(["Profile", "Summary", "PERSONAL STATEMENT", "About"]), g.para(CV_SUMMARY, 1, 3), ""]
    sections = ["exp", "edu", "skills"] + (["lang"] if g.chance(0.5) else []) + (["ref"] if g.chance(0.4) else []) + (
        ["hobby"] if g.chance(0.3) else [])
    if g.chance(0.3):
        g.r.shuffle(sections)
    for s in sections:
        if s == "exp":
            lines.append(g.pick(CV_HEADINGS_EXP))
            for _ in range(g.r.randint(1, 4)):
                y = g.r.randint(2005, 2022)
                lines.append(g.fill("{role}, {company}, {city}") + " (%d - %s)" % (y, g.pick([str(y + g.r.randint(1, 5)), "present", "now"])))
                for bl in g.sentences(CV_BULLETS, 1, 3):
                    lines.append(g.pick(["- ", "• ", "* ", ""]) + bl)
        elif s == "edu":
            lines.append(g.pick(CV_HEADINGS_EDU))
            for _ in range(g.r.randint(1, 2)):
                lines.append("%s, %s, %s" % (g.pick(DEGREES), g.pick(UNIS), g.year()))
        elif s == "skills":
            lines.append(g.pick(CV_HEADINGS_SKILL))
            lines.append(", ".join(g.r.sample(SKILLS, g.r.randint(3, 8))))
        elif s == "lang":
            lines.append("Languages: " + ", ".join(g.r.sample(["English (C2)", "German (B2)", "Polish (native)", "Français (courant)",
                                                              "Spanish", "Italian (A2)", "Swedish", "Mandarin"], 2)))
        elif s == "ref":
            lines.append(g.pick(["References available on request.", g.fill("Reference: {name}, {role}, {company}, {phone}")]))
        else:
            lines.append("Interests: " + ", ".join(g.r.sample(["cycling", "chess", "cooking", "volunteering", "photography",
                                                               "marathon running", "piano", "hiking", "reading"], 3)))
        lines.append("")
    return "\n".join(lines)


def gen_report(g):
    style = g.r.randrange(5)
    if style == 4:  # a paragraph or a metric line
        return g.para(REPORT_SENTENCES, 1, 3) if g.chance(0.6) else g.fill(g.pick([
            "{dept} KPIs {quarter}: revenue {money}, margin {pct}, churn {pct}.",
            "Status: {project} - green. Budget used {pct}. Next milestone {date}.",
            "Summary of findings: {num} issues found, {num} critical. See section {num}.",
        ]))
    if style == 3 and g.chance(0.5):  # a status update sent as a mail
        return "\n".join([g.fill(g.pick(["Hi all,", "Hello team,", "Dear {first},", "All,"])),
                          g.fill("Quick update on {project} for {month}:")] +
                         ["- " + x for x in g.sentences(REPORT_SENTENCES, 2, 5)] +
                         [g.pick(["Full report attached.", "Details in the deck.", ""]), g.fill("{first}")])
    lines = [g.fill(g.pick(REPORT_TITLES))]
    lines.append(g.fill(g.pick(["Prepared by {name}, {dept}", "Author: {name} | Date: {date}", "{company} - {dept} department",
                                "Reporting period: {month} {year}", "Version {num}.0, {date}"])))
    heads = g.r.sample(REPORT_HEADINGS, g.r.randint(1, 8))
    for h in heads:
        lines += ["", h]
        if g.chance(0.3):
            for _ in range(g.r.randint(2, 5)):
                lines.append(g.fill(g.pick(["{dept}: {money} ({pct})", "- {project}: {num}% complete", "{month}: {num}0 orders",
                                            "Metric {num}: {pct} vs target {pct}", "{city} | {money} | {pct}"])))
        else:
            lines.append(g.para(REPORT_SENTENCES, 1, 5))
    return "\n".join(lines)


def gen_letter(g):
    kind = g.pick(list(LETTER_BODIES))
    sender, recip = g.name(), g.name()
    lines = []
    if g.chance(0.6):
        lines += [sender, g.address(), ""]
        if g.chance(0.7):
            lines += [g.pick([recip, g.company()]), g.address(), ""]
        lines += [g.date(), ""]
    if g.chance(0.5):
        lines.append(g.pick(["Re: ", "Subject: ", "RE: ", "Ref: "]) + {
            "complaint": "Complaint regarding order {num}{num}", "reference": "Reference for {name}",
            "resignation": "Resignation", "reminder": "Payment reminder - invoice {invno}",
            "termination": "Notice of termination", "cover": "Application for the position of {role}",
            "offer": "Offer of employment", "info": "Change of address", "request": "Request for quotation",
            "condolence": "With sympathy", "apology": "Your letter of {date}"}[kind])
        lines[-1] = g.fill(lines[-1])
    last = recip.split()[-1]
    lines.append(g.fill(g.pick(LETTER_OPEN), {"last": last, "first": recip.split()[-2]}))
    body = g.sentences(LETTER_BODIES[kind], 2, 5, {"street_addr": g.address(False)})
    if kind in ("reminder", "apology") and g.chance(0.4):
        body.insert(1, g.fill("Invoice no. {invno} | date {date} | amount {money} | due {date}."))
    elif kind in ("termination", "offer") and g.chance(0.4):
        body.insert(1, g.pick(CONTRACT_CLAUSES[:3] + CONTRACT_CLAUSES[16:17]).replace("{num}", g.num()))
    elif kind in ("cover", "reference") and g.chance(0.4):
        body.insert(1, g.fill(g.pick(CV_BULLETS)))
    if g.chance(0.5):
        k = g.r.randint(1, len(body))
        lines += [" ".join(body[:k]), " ".join(body[k:])]
    else:
        lines.append(" ".join(body))
    lines += [g.pick(LETTER_CLOSE), sender]
    if g.chance(0.5):
        lines.append(g.pick([g.role(), g.company(), "Enc.: CV", "Encl.", "p.p. " + g.name()]))
    return "\n".join(l for l in lines if l is not None)


def gen_other(g):
    kind = g.pick(OTHER_KINDS)
    if kind == "recipe":
        dish = g.pick(["Pierogi ruskie", "Banana bread", "Tomato soup", "Käsespätzle", "Shakshuka", "Lemon tart",
                       "Chicken curry", "Gazpacho", "Apple crumble", "Bigos", "Pancakes", "Risotto ai funghi"])
        ings = g.r.sample(["200 g flour", "2 eggs", "1 onion", "500 ml milk", "salt and pepper", "3 tbsp olive oil",
                           "400 g tomatoes", "1 tsp cumin", "100 g butter", "2 cloves garlic", "150 g sugar",
                           "250 g mushrooms", "1 lemon", "fresh basil", "300 g potatoes", "1 tsp baking soda"], g.r.randint(3, 8))
        steps = g.r.sample(["Preheat the oven to 180°C.", "Chop the onion and fry until golden.", "Mix the dry ingredients.",
                            "Add the eggs one at a time.", "Simmer for {num} minutes, stirring occasionally.",
                            "Season to taste.", "Bake for 45 minutes.", "Serve warm with crusty bread.",
                            "Leave to cool before slicing.", "Blend until smooth."], g.r.randint(2, 6))
        return "\n".join([dish, g.pick(["Serves 4", "Prep time: 20 min", "Ingredients", "Grandma's recipe"])] + ings +
                         [g.pick(["Method", "Steps", "Directions", ""])] +
                         ["%d. %s" % (i + 1, g.fill(s)) for i, s in enumerate(steps)])
    if kind == "news":
        return g.fill(g.pick([
            "{city} ({month} {num}) - Local authorities announced a new cycling lane along {street}. Work is expected to finish by {date}. Residents expressed mixed feelings.",
            "BREAKING: Heavy rain causes flooding in {city}; several roads closed. The weather service expects the rain to ease by {weekday}.",
            "{company} shares rose {pct} on {weekday} after the company reported strong quarterly results and a new contract with the city of {city}.",
            "The national football team beat its rivals 2-1 in a thrilling match in {city} last night.",
            "Scientists at {unis} have discovered a new species of beetle in the forests near {city}.",
            "The central bank kept interest rates unchanged at {pct}, citing uncertainty about inflation.",
            "Museum night in {city}: {num} museums open until midnight this Saturday, entry free.",
        ]), {"street": g.pick(STREETS), "unis": g.pick(UNIS)})
    if kind == "meeting":
        lines = [g.fill(g.pick(["Meeting notes - {dept} weekly, {date}", "Minutes: team sync {date}", "notes from standup",
                                "Retro {month}", "Kick-off {project} - notes"])),
                 "Attendees: " + ", ".join(g.first() for _ in range(g.r.randint(2, 6)))]
        for _ in range(g.r.randint(2, 6)):
            lines.append(g.pick(["- ", "* ", "• "]) + g.fill(g.pick([
                "{first} to follow up with {company} about the delivery", "discussed the {project} timeline, no blockers",
                "budget still tbd", "next meeting {weekday} at {time}", "{first} out of office next week",
                "agreed to move the offsite to {city}", "AI: {first} to send the slides", "coffee machine broken again",
                "review the draft contract before {date}", "numbers for the report due Friday",
                "{first} will chase the unpaid invoice from {company}", "new intern starts {date}"])))
        if g.chance(0.4):
            lines.insert(g.r.randint(2, len(lines)), g.fill(g.pick(REPORT_SENTENCES)))
        return "\n".join(lines)
    if kind == "lunch":
        return g.fill(g.pick([
            "Hi all,\nwho's up for {food} at {time} today? {first} found a new place near {street}.\nCheers, {first}",
            "Subject: Lunch on {weekday}?\n\nHey {first}, are you free for lunch on {weekday}? I was thinking {food}. Let me know!\n{first}",
            "Team lunch this Friday at {time} - {food}! Please reply by Wednesday so I can book a table for {num}.",
            "hey, {food} or {food}? I'm starving lol",
            "Reminder: the office kitchen will be cleaned on {weekday}. Please take your food out of the fridge. Thanks! {first}",
            "Dear all,\nit's {first}'s birthday on {weekday}! Cake in the kitchen at {time}. Bring your appetite.\nBest, {first}",
        ]), {"street": g.pick(STREETS)})
    if kind == "shopping":
        return "\n".join([g.pick(["Shopping list", "To buy:", "groceries", "Einkaufsliste"])] +
                         g.r.sample(["milk", "bread", "eggs", "coffee", "apples", "toilet paper", "rice", "chicken",
                                     "cheese", "washing-up liquid", "bananas", "yoghurt", "batteries", "pasta",
                                     "tomatoes", "Brötchen", "kiełbasa", "wine for Saturday"], g.r.randint(2, 9)))
    if kind == "review":
        return g.fill(g.pick([
            "★★★★☆ Great little hotel in {city}. Friendly staff, clean rooms, breakfast could be better. Would stay again.",
            "Terrible service. Waited {num} minutes for {food} and it was cold. 1/5.",
            "I bought this {product} last month and it works perfectly. Delivery was fast. Recommended!",
            "The book starts slowly but the second half is gripping. The ending surprised me. 4 stars.",
            "Not worth the money. The battery died after {num} days and support never answered.",
        ]))
    if kind == "todo":
        return "\n".join([g.pick(["TODO", "To do this week:", "Weekend", "tasks"])] + [
            g.pick(["[ ] ", "[x] ", "- ", ""]) + g.fill(g.pick(["call mum", "renew passport", "dentist {weekday} {time}", "pay rent",
                                                               "book flights to {city}", "fix bike", "gym", "water the plants",
                                                               "pick up parcel", "email {first}", "clean the flat",
                                                               "birthday present for {first}", "car service {date}"]))
            for _ in range(g.r.randint(2, 8))])
    if kind == "chat":
        return "\n".join(g.fill(g.pick(["{first}: ", "[{time}] {first}: "])) + g.fill(g.pick([
            "are you coming tonight?", "running 10 min late sorry", "did you see the game?", "lol", "ok see you at {time}",
            "can you send me the photos from {city}?", "the train is delayed again", "happy birthday!!", "👍",
            "where did we park", "haha yes", "what time is the cinema", "I'll bring {food}"])) for _ in range(g.r.randint(2, 8)))
    if kind == "weather":
        return g.fill("Weather for {city}, {weekday}: {cond}, high of {num}°C, low of {lo}°C. Wind {num} km/h. {extra}",
                      {"cond": g.pick(["sunny", "cloudy", "light rain", "thunderstorms", "snow showers", "fog in the morning"]),
                       "lo": str(g.r.randint(-10, 15)), "extra": g.pick(["", "Take an umbrella.", "UV index high.", "Roads may be icy."])})
    if kind == "sports":
        return g.fill(g.pick([
            "Final score: {city} FC {n1} - {n2} {city} United. Goals from {last} ({num}') and {last} ({num}').",
            "Marathon results: 1. {name} 2:0{n1}:{num} 2. {name} 2:1{n2}:{num}. Over {num}00 runners finished.",
            "Tennis: {name} beat {name} 6-{n1}, 7-5 in the quarter-final in {city}.",
        ]), {"n1": str(g.r.randint(0, 5)), "n2": str(g.r.randint(0, 5))})
    if kind == "event":
        return g.fill(g.pick([
            "You're invited! Summer party at {street_addr} on {date} from {time}. BBQ, music and games for the kids. RSVP to {first}.",
            "Yoga class moved to {weekday} {time}, room {num}. Bring your own mat.",
            "Book club: this month we read a novel set in {city}. Meeting {weekday} at {time}, snacks welcome.",
            "Wedding of {name} and {name} - {date} - ceremony at {time}, reception to follow in {city}.",
        ]), {"street_addr": g.address(False)})
    if kind == "poem":
        return g.pick(["Roses are red,\nviolets are blue,\nthe printer is broken\nand so is the glue.",
                       "The rain on the roof\nthe kettle sings low\nan autumn in Łódź\nwith nowhere to go.",
                       "Monday again\ncoffee and light\nthe inbox grows\nfrom morning to night."])
    if kind == "faq":
        return g.fill(g.pick([
            "Q: How do I reset my password?\nA: Click 'Forgot password' on the login page and follow the instructions sent to your email.",
            "FAQ\nCan I bring my dog? Yes, dogs on a lead are welcome.\nIs there parking? Limited parking at {street}.",
            "How to connect to the guest Wi-Fi: network KeelGuest, password on the sign at reception.",
        ]), {"street": g.pick(STREETS)})
    if kind == "forum":
        return g.fill(g.pick([
            "Has anyone else had issues with the {product} after the last update? Mine keeps restarting. Any tips appreciated.",
            "Looking for recommendations: good {food} in {city}? Visiting next month.",
            "Moving to {city} soon - which neighbourhoods are good for families? Thanks in advance!",
        ]))
    if kind == "travel":
        return g.fill("Trip to {city}\nDay 1: arrive {time}, check in, walk around the old town.\nDay 2: museum, lunch ({food}), boat tour.\n"
                      "Day 3: train back at {time2}. Budget: {money}.", {"time2": g.time()})
    return g.fill(g.pick([
        "Lost: black umbrella in meeting room {num}. If found please leave at reception. {first}",
        "The lift in building B is out of service until {weekday}. Please use the stairs.",
        "Found a set of keys in the car park. Ask {first} at reception.",
        "Parking spaces {num}-{num} reserved for visitors on {date}.",
    ]))


GENERATORS = [gen_invoice, gen_contract, gen_cv, gen_report, gen_letter, gen_other]

# Sentences that legitimately turn up in several classes (forwarded mails, quotes, footers,
# status lines); CLASS_SHARED says which groups each class draws from.
SHARED = {
    "money": ["Payment is due within {num} days of the invoice date.", "The total amount of {money} is payable by bank transfer.",
              "All prices exclude VAT.", "Late payment interest applies.", "Please quote reference {invno}.",
              "The outstanding balance is {money}.", "Please find attached invoice {invno}.", "Invoice to follow.",
              "Payment terms remain net 30.", "Total amount: {money}.", "The fees are invoiced monthly in arrears."],
    "contract": ["The contract runs until {date}.", "Either party may terminate with {num} days' notice.",
                 "The agreement was signed on {date}.", "As agreed in the contract dated {date}.",
                 "Signed copy of the contract enclosed.", "The agreement expires in {month}.",
                 "Under the terms of the agreement, {company} provides the services.", "The notice period is three months."],
    "work": ["{num} years of experience in {dept}.", "Responsible for the monthly reporting to management.",
             "Managed a team of {num} people.", "Fluent in English and German.", "My CV is attached.",
             "References available on request.", "Worked as {role} at {company}.", "Holds a {degree} from {unis}."],
    "status": ["The project is on track.", "Budget used so far: {pct}.", "Next steps were agreed.", "Deadline moved to {date}.",
               "{first} will follow up.", "Report due {date}.", "Revenue grew {pct}.", "See the attached report for details.",
               "Numbers are still preliminary.", "Sales in {city} were below plan."],
    "greeting": ["Thank you for your email.", "I hope this finds you well.", "Let me know if you have any questions.",
                 "Best, {first}", "Hi {first},", "Have a nice weekend!", "Thank you for your letter.", "Kind regards, {name}",
                 "Many thanks in advance.", "Looking forward to hearing from you."],
    "company": ["{company} was founded in {year} and employs {num}0 people.", "Our office in {city} is open Monday to Friday.",
                "{company} announced a new partnership with {company}.", "The company moved its headquarters to {city}."],
}
CLASS_SHARED = [
    ["money", "greeting", "contract"],                           # invoice
    ["money", "contract", "work"],                               # contract
    ["work", "status", "greeting"],                              # cv
    ["money", "contract", "status", "company", "work"],          # report
    ["money", "contract", "work", "greeting", "status", "company"],  # letter
    ["greeting", "status", "company", "contract", "money"],      # other
]
SYNONYMS = {
    "invoice": ["bill", "statement", "invoice"], "agreement": ["contract", "agreement"], "contract": ["agreement", "deal"],
    "customer": ["client", "buyer"], "client": ["customer"], "employee": ["staff member", "worker"],
    "report": ["summary", "review", "update"], "position": ["role", "job", "post"], "experience": ["background", "expertise"],
    "please": ["kindly", "pls"], "total": ["sum", "overall"], "amount": ["sum", "figure"], "payment": ["remittance", "transfer"],
    "supplier": ["vendor", "provider"], "meeting": ["call", "session"], "team": ["group", "department"],
    "results": ["figures", "numbers"], "company": ["firm", "business"], "letter": ["note", "message"],
    "dear": ["hello", "hi"], "regards": ["wishes", "greetings"], "project": ["programme", "initiative"],
    "due": ["payable", "owed"], "services": ["work", "deliverables"], "skills": ["strengths", "abilities"],
    "increase": ["rise", "growth"], "terminate": ["end", "cancel"], "office": ["site", "branch"],
}
_WORD_RE = re.compile(r"[A-Za-z]+")


def _synonyms(g, text, p):
    def sub(m):
        w = m.group(0)
        alts = SYNONYMS.get(w.lower())
        if not alts or not g.chance(p):
            return w
        a = g.pick(alts)
        return a.upper() if w.isupper() and len(w) > 1 else (a.capitalize() if w[0].isupper() else a)
    return _WORD_RE.sub(sub, text)


def _dropout(g, text, p):
    return "\n".join(" ".join(w for w in line.split(" ") if not g.chance(p)) for line in text.split("\n"))


def _ocr(g, text):
    chars = list(text)
    for _ in range(max(1, len(chars) // 60)):
        i = g.r.randrange(len(chars))
        op = g.r.randrange(3)
        if op == 0:
            chars[i] = ""
        elif op == 1 and i + 1 < len(chars):
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
        else:
            chars[i] = g.pick(["l", "1", "0", "O", "rn", "c", " ", "."])
    return "".join(chars)


def _fragment(g, text):
    words = text.split(" ")
    if len(words) < 6:
        return text
    n = g.r.randint(2, max(3, min(len(words) - 1, g.pick([8, 12, 30]))))
    s = g.r.randint(0, len(words) - n)
    return " ".join(words[s:s + n])


def make_document(g, label_idx, max_bytes=2048):
    text = GENERATORS[label_idx](g)
    # Shared vocabulary across classes: one to three sentences from this class's shared groups.
    if g.chance(0.45):
        lines = text.split("\n")
        for _ in range(g.r.randint(1, 3)):
            extra = g.fill(g.pick(SHARED[g.pick(CLASS_SHARED[label_idx])]))
            lines.insert(g.r.randint(0, len(lines)), extra)
        text = "\n".join(lines)
    # Lexical variation: synonyms, dropped words, noise words.
    if g.chance(0.5):
        text = _synonyms(g, text, g.r.uniform(0.2, 0.7))
    if g.chance(0.2):
        text = _dropout(g, text, g.r.uniform(0.05, 0.25))
    if g.chance(0.15):
        words = text.split(" ")
        for _ in range(g.r.randint(1, 4)):
            words.insert(g.r.randint(0, len(words)), g.pick(NOISE))
        text = " ".join(words)
    # Surface variation.
    u = g.r.random()
    if u < 0.04:
        text = text.upper()
    elif u < 0.09:
        text = text.lower()
    if g.chance(0.06):
        text = _ocr(g, text)
    if g.chance(0.2):
        text = _fragment(g, text)
    if g.chance(0.3):
        text = re.sub(r"[ \t]*\n[ \t]*", g.pick([" ", "\n", "  ", "\r\n"]), text)
    # Cap the length at max_bytes of UTF-8, cutting at a space.
    b = text.encode("utf-8")
    if len(b) > max_bytes:
        cut = b[:max_bytes].decode("utf-8", "ignore")
        text = cut[:cut.rfind(" ")] if " " in cut else cut
    return text.strip() or GENERATORS[label_idx](g)[:80]


def make_dataset(seed, train_per_class, heldout_per_class):
    g = Gen(random.Random(seed))
    seen = set()
    per_class = train_per_class + heldout_per_class
    train, heldout = [], []
    for li in range(len(LABELS)):
        docs = []
        while len(docs) < per_class:
            t = make_document(g, li)
            key = " ".join(t.lower().split())
            if len(key) < 12 or key in seen:  # no near-empty documents, no duplicates
                continue
            seen.add(key)
            docs.append((t, li))
        train += docs[:train_per_class]
        heldout += docs[train_per_class:]
    g.r.shuffle(train)
    g.r.shuffle(heldout)
    return train, heldout


# ----------------------------------------------------------------------------------------------
# Model
# ----------------------------------------------------------------------------------------------

def forward(X, W1, b1, W2, b2):
    """float32 forward pass: the same math as the ONNX graph (Gemm, Relu, Gemm, Softmax)."""
    H = np.maximum(X @ W1 + b1, np.float32(0))
    Z = H @ W2 + b2
    Z = Z - Z.max(axis=1, keepdims=True)
    E = np.exp(Z)
    return H, E / E.sum(axis=1, keepdims=True)


def train_mlp(Xtr, ytr, Xho, yho, hidden, epochs, batch, lr, weight_decay, seed):
    rng = np.random.default_rng(seed)
    d, k = Xtr.shape[1], len(LABELS)
    W1 = (rng.standard_normal((d, hidden)) * math.sqrt(2.0 / 64)).astype(np.float32)  # ~64 active inputs per doc
    b1 = np.zeros(hidden, np.float32)
    W2 = (rng.standard_normal((hidden, k)) * math.sqrt(2.0 / hidden)).astype(np.float32)
    b2 = np.zeros(k, np.float32)
    params = [W1, b1, W2, b2]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    Y = np.eye(k, dtype=np.float32)
    step = 0
    n = len(Xtr)
    for ep in range(1, epochs + 1):
        order = rng.permutation(n)
        total_loss = 0.0
        for s in range(0, n, batch):
            idx = order[s:s + batch]
            X, yb = Xtr[idx], ytr[idx]
            H, P = forward(X, *params)
            total_loss += float(-np.log(P[np.arange(len(idx)), yb] + 1e-12).sum())
            dZ = (P - Y[yb]) / np.float32(len(idx))
            gW2 = H.T @ dZ + weight_decay * W2
            gb2 = dZ.sum(axis=0)
            dH = (dZ @ W2.T) * (H > 0)
            gW1 = X.T @ dH + weight_decay * W1
            gb1 = dH.sum(axis=0)
            step += 1
            lr_t = lr * math.sqrt(1 - beta2 ** step) / (1 - beta1 ** step)
            for p, gr, mm, vv in zip(params, [gW1, gb1, gW2, gb2], m, v):
                mm *= beta1
                mm += (1 - beta1) * gr
                vv *= beta2
                vv += (1 - beta2) * gr * gr
                p -= (lr_t * mm / (np.sqrt(vv) + eps)).astype(np.float32)
        tr_acc = accuracy(forward(Xtr, *params)[1], ytr)
        ho_acc = accuracy(forward(Xho, *params)[1], yho)
        log("epoch %2d/%d  loss %.4f  train acc %.4f  held-out acc %.4f" % (ep, epochs, total_loss / n, tr_acc, ho_acc))
    return params


def accuracy(P, y):
    return float((P.argmax(axis=1) == y).mean())


def confusion(P, y):
    k = len(LABELS)
    C = np.zeros((k, k), dtype=np.int64)
    for t, p in zip(y, P.argmax(axis=1)):
        C[t, p] += 1
    return C


def format_confusion(C):
    w = max(8, max(len(l) for l in LABELS) + 1)
    out = ["true \\ pred".ljust(w) + "".join(l.rjust(w) for l in LABELS)]
    for i, l in enumerate(LABELS):
        out.append(l.ljust(w) + "".join(str(int(c)).rjust(w) for c in C[i]))
    return "\n".join(out)


# ----------------------------------------------------------------------------------------------
# ONNX export
# ----------------------------------------------------------------------------------------------

def export_onnx(params, path, hidden):
    W1, b1, W2, b2 = params
    inits = [numpy_helper.from_array(np.ascontiguousarray(a, dtype=np.float32), name)
             for a, name in ((W1, "W1"), (b1, "b1"), (W2, "W2"), (b2, "b2"))]
    for t in inits:
        assert t.HasField("raw_data") and t.data_type == TensorProto.FLOAT
    nodes = [
        helper.make_node("Gemm", ["features", "W1", "b1"], ["hidden_pre"], name="gemm1"),
        helper.make_node("Relu", ["hidden_pre"], ["hidden"], name="relu"),
        helper.make_node("Gemm", ["hidden", "W2", "b2"], ["logits"], name="gemm2"),
        helper.make_node("Softmax", ["logits"], ["probabilities"], name="softmax", axis=-1),
    ]
    graph = helper.make_graph(
        nodes, "doc_classifier",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", DIMS])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", len(LABELS)])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="keel-train-doc-classifier", producer_version="1",
                              doc_string="Keel browser document classifier: keel-hashed-bow-v1 features -> MLP %d-%d-%d"
                              % (DIMS, hidden, len(LABELS)))
    model.ir_version = 8
    helper.set_model_props(model, {
        "keel.model_id": MODEL_ID,
        "keel.version": MODEL_VERSION,
        "keel.labels": json.dumps(LABELS, separators=(",", ":")),
        "keel.featurizer": json.dumps(FEATURIZER, separators=(",", ":")),
    })
    onnx.checker.check_model(model)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as f:
        f.write(model.SerializeToString())


def onnx_numpy_eval(path, X):
    """Re-reads the ONNX file and evaluates its graph with numpy, node by node (only the four
    op types the export uses; Gemm with its attributes honoured)."""
    model = onnx.load(path)
    onnx.checker.check_model(model)
    assert model.ir_version == 8 and [(o.domain, o.version) for o in model.opset_import] == [("", 13)]
    env = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    env[model.graph.input[0].name] = X
    for node in model.graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        ins = [env[i] for i in node.input]
        if node.op_type == "Gemm":
            A, B = ins[0], ins[1]
            if attrs.get("transA", 0):
                A = A.T
            if attrs.get("transB", 0):
                B = B.T
            out = np.float32(attrs.get("alpha", 1.0)) * (A @ B)
            if len(ins) > 2:
                out = out + np.float32(attrs.get("beta", 1.0)) * ins[2]
        elif node.op_type == "Relu":
            out = np.maximum(ins[0], np.float32(0))
        elif node.op_type == "Softmax":
            z = ins[0] - ins[0].max(axis=attrs.get("axis", -1), keepdims=True)
            e = np.exp(z)
            out = e / e.sum(axis=attrs.get("axis", -1), keepdims=True)
        else:
            raise ValueError("unexpected op " + node.op_type)
        env[node.output[0]] = out.astype(np.float32)
    return model, env[model.graph.output[0].name]


# ----------------------------------------------------------------------------------------------

EDGE_CASES = ["", "   \t\n ", "!!!", "a", "Hello, World!", "HELLO hello HeLLo", "Müller & Łódź GmbH",
              "über-straße 12/3", "€1,234.56 — 10% off", "don't stop", "x" * 40, "tab\tsep\nline\r\nend",
              "日本語のテキスト and emoji 👍🏽", "a b a b a b", "ÀÉÎ àéî ÄÖÜ"]


def sparse(x):
    idx = np.nonzero(x)[0]
    return [int(i) for i in idx], [float(v) for v in x[idx]]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--seed", type=int, default=20240611)
    ap.add_argument("--model-out", default="models/doc-classifier/doc-classifier.onnx")
    ap.add_argument("--heldout-out", default="examples/browser-classifier/heldout.jsonl")
    ap.add_argument("--report-out", default="models/doc-classifier/training-report.json")
    ap.add_argument("--vectors-out", default="tests/edge/data/featurizer_oracle.json",
                    help="cross-language featurizer oracle ('' to skip)")
    ap.add_argument("--train-per-class", type=int, default=500)
    ap.add_argument("--heldout-per-class", type=int, default=100)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--weight-decay", type=float, default=1e-4)
    args = ap.parse_args()
    t0 = time.time()

    def out_path(p):
        return p if os.path.isabs(p) else os.path.join(ROOT, p)

    train, heldout = make_dataset(args.seed, args.train_per_class, args.heldout_per_class)
    lens = sorted(len(t.encode("utf-8")) for t, _ in train + heldout)
    log("generated %d train / %d held-out documents (bytes: min %d, median %d, max %d)"
        % (len(train), len(heldout), lens[0], lens[len(lens) // 2], lens[-1]))
    Xtr = featurize_all([t for t, _ in train])
    ytr = np.array([y for _, y in train], dtype=np.int64)
    Xho = featurize_all([t for t, _ in heldout])
    yho = np.array([y for _, y in heldout], dtype=np.int64)
    log("featurized (%.1f s)" % (time.time() - t0))

    params = train_mlp(Xtr, ytr, Xho, yho, args.hidden, args.epochs, args.batch, np.float32(args.lr),
                       np.float32(args.weight_decay), args.seed)
    Ptr = forward(Xtr, *params)[1]
    Pho = forward(Xho, *params)[1]
    tr_acc, ho_acc = accuracy(Ptr, ytr), accuracy(Pho, yho)
    C = confusion(Pho, yho)
    log("held-out confusion matrix (rows true, columns predicted):\n" + format_confusion(C))

    model_path = out_path(args.model_out)
    export_onnx(params, model_path, args.hidden)
    model, P_file = onnx_numpy_eval(model_path, Xho)
    file_acc = accuracy(P_file, yho)
    max_diff = float(np.abs(P_file - Pho).max())
    if abs(file_acc - ho_acc) > 1e-9 or max_diff > 1e-5:
        raise SystemExit("exported model disagrees with the trained one: acc %.4f vs %.4f, max |dp| %g"
                         % (file_acc, ho_acc, max_diff))
    log("wrote %s (%d bytes); re-read: onnx.checker ok, held-out accuracy from the file's weights %.4f (max |dp| %.2g)"
        % (args.model_out, os.path.getsize(model_path), file_acc, max_diff))

    hp = out_path(args.heldout_out)
    os.makedirs(os.path.dirname(hp), exist_ok=True)
    with open(hp, "w", encoding="utf-8", newline="\n") as f:
        for t, y in heldout:
            f.write(json.dumps({"text": t, "label": LABELS[y]}, ensure_ascii=False) + "\n")

    report = {
        "model_id": MODEL_ID, "version": MODEL_VERSION, "labels": LABELS, "featurizer": FEATURIZER,
        "seed": args.seed, "architecture": "MLP %d -> %d (ReLU) -> %d (softmax)" % (DIMS, args.hidden, len(LABELS)),
        "hidden": args.hidden, "epochs": args.epochs, "batch": args.batch, "learning_rate": args.lr,
        "weight_decay": args.weight_decay, "optimizer": "Adam",
        "train_size": len(train), "heldout_size": len(heldout),
        "train_per_class": args.train_per_class, "heldout_per_class": args.heldout_per_class,
        "train_accuracy": round(tr_acc, 6), "heldout_accuracy": round(ho_acc, 6),
        "heldout_accuracy_from_onnx_file": round(file_acc, 6),
        "confusion_matrix": {"labels": LABELS, "rows": "true label", "columns": "predicted label",
                             "matrix": C.tolist()},
        "per_class_recall": {l: round(float(C[i, i] / max(1, C[i].sum())), 4) for i, l in enumerate(LABELS)},
        "model_file": args.model_out, "model_bytes": os.path.getsize(model_path), "heldout_file": args.heldout_out,
    }
    rp = out_path(args.report_out)
    os.makedirs(os.path.dirname(rp), exist_ok=True)
    with open(rp, "w", encoding="utf-8") as f:
        text = json.dumps(report, indent=2, ensure_ascii=False)
        f.write(re.sub(r"\[\s+([-0-9.,\s]+?)\s+\]", lambda m: "[" + ", ".join(m.group(1).replace(",", " ").split()) + "]",
                       text) + "\n")

    if args.vectors_out:
        docs = []
        first = heldout[:20]
        P20 = forward(featurize_all([t for t, _ in first]), *params)[1]
        for (t, y), p in zip(first, P20):
            idx, vals = sparse(featurize(t))
            docs.append({"text": t, "label": LABELS[y], "tokens": len(tokenize(t)), "indices": idx, "values": vals,
                         "probabilities": [float(v) for v in p]})
        edges = []
        for t in EDGE_CASES + [" ".join("w%d" % (i % 50) for i in range(MAX_TOKENS + 100))]:
            idx, vals = sparse(featurize(t))
            edges.append({"text": t, "tokens": len(tokenize(t)), "indices": idx, "values": vals})
        oracle = {
            "featurizer": FEATURIZER, "labels": LABELS, "model_id": MODEL_ID, "seed": args.seed,
            "note": ("Generated by tools/train_doc_classifier.py. 'documents': the first 20 held-out documents with "
                     "their keel-hashed-bow-v1 non-zero features (ascending indices, float32 values written as "
                     "doubles) and the probabilities of the trained model (numpy float32 forward; compare with a "
                     "tolerance). 'edge_cases': featurizer-only cases (empty, separators only, case folding, "
                     "non-ASCII, more than max_tokens tokens). 'tokens' counts tokens after the max_tokens cut."),
            "documents": docs, "edge_cases": edges,
        }
        vp = out_path(args.vectors_out)
        os.makedirs(os.path.dirname(vp), exist_ok=True)
        with open(vp, "w", encoding="utf-8") as f:
            json.dump(oracle, f, ensure_ascii=False, indent=1)
            f.write("\n")

    dt = time.time() - t0
    print("doc-classifier: train %d acc %.4f, held-out %d acc %.4f (from ONNX file %.4f), %s %d bytes, %.1f s"
          % (len(train), tr_acc, len(heldout), ho_acc, file_acc, args.model_out, os.path.getsize(model_path), dt),
          file=sys.stderr)


if __name__ == "__main__":
    main()
