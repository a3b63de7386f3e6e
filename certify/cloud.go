package certify

import (
	"regexp"
	"strings"

	"github.com/cctest/cctest/api/teename"

	mgmtv1 "github.com/cctest/cctest/api/management/v1"
)

// Zone vs region by shape (GCP us-central1-a, AWS us-east-1a, Azure
// eastus-1 or a bare zone number are zones; us-central1, us-east-1, eastus
// are regions).
var (
	zoneShape      = regexp.MustCompile(`^[a-z]+(-[a-z]+)*-?[0-9]+-?[a-z]$`)
	azureZoneShape = regexp.MustCompile(`^([a-z]+[0-9]*-)?[0-9]$`)
	regionShape    = regexp.MustCompile(`^[a-z]+(-[a-z]+)*(-?[0-9]+)?$`)
)

// zoneKind classifies a zone property value: "zone", "region" or "unknown".
func zoneKind(v string) string {
	switch {
	case zoneShape.MatchString(v), azureZoneShape.MatchString(v):
		return "zone"
	case regionShape.MatchString(v):
		return "region"
	}
	return "unknown"
}

// mustTerminate reports whether the instance type is one whose Confidential
// VMs cannot live-migrate for this TEE: on GCP (instance types like
// c3-standard-4, n2d-standard-2) SEV-SNP and TDX guests need
// on_host_maintenance TERMINATE (only plain SEV on N2D migrates). AWS
// (m6a.large) and Azure (Standard_DC4as_v5) manage maintenance themselves.
func mustTerminate(instanceType, tech string) bool {
	if tech != teename.TDX && tech != teename.SNP {
		return false
	}
	return isGCPInstanceType(instanceType)
}

var gcpInstanceType = regexp.MustCompile(`^[a-z][a-z0-9]*-[a-z]+(-[0-9]+[a-z]*)?(-lssd)?$`)

func isGCPInstanceType(s string) bool {
	return !strings.Contains(s, ".") && !strings.HasPrefix(s, "Standard_") && gcpInstanceType.MatchString(s)
}

// checkCloudTypes: explicit zone (CC040) and maintenance policy (CC041) for
// cloud Confidential VM node types.
func (r *run) checkCloudTypes() {
	for _, t := range r.types {
		if t.cpath != mgmtv1.PathCloudVM {
			continue
		}
		props := t.def.Properties
		zone, ok := props[mgmtv1.PropertyZone]
		file, path, line := t.at("properties")
		switch {
		case !ok || zone == "":
			r.add(CheckCloudZone, SeverityError, file, path, line,
				"cloud Confidential VM node type %q sets no %s property; cloud providers place Confidential VMs in an explicit zone", t.def.Name, mgmtv1.PropertyZone)
		case zoneKind(zone) == "region":
			zf, zp, zl := t.at("properties." + mgmtv1.PropertyZone)
			r.add(CheckCloudZone, SeverityError, zf, zp, zl,
				"cloud Confidential VM node type %q: %s=%q looks like a region, not a zone (e.g. %s-a)", t.def.Name, mgmtv1.PropertyZone, zone, zone)
		case zoneKind(zone) == "unknown":
			zf, zp, zl := t.at("properties." + mgmtv1.PropertyZone)
			r.add(CheckCloudZone, SeverityWarning, zf, zp, zl,
				"cloud Confidential VM node type %q: cannot tell whether %s=%q is a zone; make sure it is a zone, not a region", t.def.Name, mgmtv1.PropertyZone, zone)
		}

		policy, ok := props[mgmtv1.PropertyOnHostMaintenance]
		instance := props[mgmtv1.PropertyInstanceType]
		switch {
		case !ok || policy == "":
			r.add(CheckCloudMaintenance, SeverityError, file, path, line,
				"cloud Confidential VM node type %q (instance type %s) sets no %s property; confirm the maintenance policy the instance type supports and record it (MIGRATE or TERMINATE)",
				t.def.Name, instance, mgmtv1.PropertyOnHostMaintenance)
		case policy != mgmtv1.MaintenanceMigrate && policy != mgmtv1.MaintenanceTerminate:
			mf, mp, ml := t.at("properties." + mgmtv1.PropertyOnHostMaintenance)
			r.add(CheckCloudMaintenance, SeverityError, mf, mp, ml,
				"node type %q: %s=%q; want MIGRATE or TERMINATE", t.def.Name, mgmtv1.PropertyOnHostMaintenance, policy)
		case policy == mgmtv1.MaintenanceMigrate && mustTerminate(instance, t.tech):
			mf, mp, ml := t.at("properties." + mgmtv1.PropertyOnHostMaintenance)
			r.add(CheckCloudMaintenance, SeverityError, mf, mp, ml,
				"node type %q: %s Confidential VMs on instance type %s cannot live-migrate; %s must be TERMINATE (GCP's default is MIGRATE)",
				t.def.Name, t.tech, instance, mgmtv1.PropertyOnHostMaintenance)
		case policy == mgmtv1.MaintenanceMigrate:
			mf, mp, ml := t.at("properties." + mgmtv1.PropertyOnHostMaintenance)
			r.add(CheckCloudMaintenance, SeverityWarning, mf, mp, ml,
				"node type %q: MIGRATE is set; confirm that %s Confidential VMs on instance type %s support live migration", t.def.Name, t.tech, instance)
		}
	}
}
