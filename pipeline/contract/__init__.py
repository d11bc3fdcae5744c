"""The data contract: datasets, months, lake layout, row rules, the step list, execution naming.

Standard library only, Python 3.9: every other layer, the Pulumi program and the trigger Lambda
import it, and none of it imports anything above it.
"""
