"""her2-fhir-adapter: HER2 IHC/ISH results in, guideline-correct HER2 status out."""

__version__ = "0.1.0"
