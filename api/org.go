package api

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"redprop/model"
	"redprop/service"
	"redprop/service/org"
)

// importEnvelope is what a multipart upload adds around the CSV itself;
// the file's own cap (org.ImportMaxBytes) is enforced by the service.
const importEnvelope = 64 << 10

// orgRoutes registers the admin API of the tree, firms, contracts,
// committees, departments and the CSV import.
func (h *handlers) orgRoutes(authed *gin.RouterGroup) {
	authed.POST("/regions", h.idempotent(h.createRegion))
	authed.GET("/regions", h.listCities)
	authed.GET("/regions/:id", h.getRegion)
	authed.PATCH("/regions/:id", h.updateRegion)
	authed.GET("/regions/:id/children", h.regionChildren)
	authed.GET("/regions/:id/compounds", h.regionCompounds)
	authed.GET("/regions/:id/grids", h.regionGrids)
	authed.GET("/regions/:id/committees", h.regionCommittees)
	authed.GET("/regions/:id/departments", h.regionDepartments)

	authed.POST("/compounds", h.idempotent(h.createCompound))
	authed.GET("/compounds/:id", h.getCompound)
	authed.PATCH("/compounds/:id", h.updateCompound)
	authed.GET("/compounds/:id/buildings", h.compoundBuildings)
	authed.GET("/compounds/:id/contracts", h.compoundContracts)
	h.bodies.handle(authed, http.MethodPost, "/compounds/:id/import", org.ImportMaxBytes+importEnvelope, h.importHouseholds)

	authed.POST("/grids", h.idempotent(h.createGrid))
	authed.GET("/grids/:id", h.getGrid)
	authed.PATCH("/grids/:id", h.updateGrid)
	authed.GET("/grids/:id/buildings", h.gridBuildings)

	authed.POST("/buildings", h.idempotent(h.createBuilding))
	authed.GET("/buildings/:id", h.getBuilding)
	authed.PATCH("/buildings/:id", h.updateBuilding)
	authed.GET("/buildings/:id/households", h.buildingHouseholds)

	authed.POST("/households", h.idempotent(h.createHousehold))
	authed.GET("/households/:id", h.getHousehold)
	authed.PATCH("/households/:id", h.updateHousehold)

	authed.POST("/firms", h.idempotent(h.createFirm))
	authed.GET("/firms", h.listFirms)
	authed.GET("/firms/:id", h.getFirm)
	authed.PATCH("/firms/:id", h.updateFirm)
	authed.GET("/firms/:id/contracts", h.firmContracts)

	authed.POST("/contracts", h.idempotent(h.createContract))
	authed.GET("/contracts/:id", h.getContract)
	authed.PATCH("/contracts/:id", h.updateContract)

	authed.POST("/committees", h.idempotent(h.createCommittee))
	authed.GET("/committees/:id", h.getCommittee)
	authed.PATCH("/committees/:id", h.updateCommittee)

	authed.POST("/departments", h.idempotent(h.createDepartment))
	authed.GET("/departments/:id", h.getDepartment)
	authed.PATCH("/departments/:id", h.updateDepartment)
}

// ---- shared shapes ----

// orgAncestry is where a row sits in the tree (0: not below that level).
type orgAncestry struct {
	CityID      int64 `json:"city_id"`
	DistrictID  int64 `json:"district_id"`
	StreetID    int64 `json:"street_id"`
	CommunityID int64 `json:"community_id"`
	CompoundID  int64 `json:"compound_id"`
	GridID      int64 `json:"grid_id"`
	BuildingID  int64 `json:"building_id"`
}

func newOrgAncestry(a model.Ancestry) orgAncestry {
	return orgAncestry{CityID: a.CityID, DistrictID: a.DistrictID, StreetID: a.StreetID, CommunityID: a.CommunityID,
		CompoundID: a.CompoundID, GridID: a.GridID, BuildingID: a.BuildingID}
}

type orgTimes struct {
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

func newOrgTimes(b model.Base) orgTimes {
	return orgTimes{CreatedAt: ts(b.CreatedAt), UpdatedAt: ts(b.UpdatedAt)}
}

// ---- regions ----

type regionRequest struct {
	Level    string `json:"level"`
	ParentID int64  `json:"parent_id"`
	Name     string `json:"name"`
	Code     string `json:"code"`
}

type regionPatchRequest struct {
	Name *string `json:"name"`
	Code *string `json:"code"`
}

type regionResponse struct {
	ID       int64  `json:"id"`
	Level    string `json:"level"`
	ParentID int64  `json:"parent_id"`
	Name     string `json:"name"`
	Code     string `json:"code"`
	orgAncestry
	orgTimes
}

func newRegionResponse(r model.Region) regionResponse {
	return regionResponse{ID: r.ID, Level: r.Level, ParentID: r.ParentID, Name: r.Name, Code: r.Code,
		orgAncestry: newOrgAncestry(r.Ancestry), orgTimes: newOrgTimes(r.Base)}
}

func orgRegionID(r model.Region) int64 { return r.ID }

func (h *handlers) createRegion(c *gin.Context) {
	createJSON(c, func(r regionRequest) (model.Region, error) {
		return h.Org.CreateRegion(c.Request.Context(), actor(c), org.RegionInput{Level: r.Level, ParentID: r.ParentID, Name: r.Name, Code: r.Code})
	}, newRegionResponse)
}

func (h *handlers) listCities(c *gin.Context) {
	p, ok := page(c)
	if !ok {
		return
	}
	res, err := h.Org.Cities(c.Request.Context(), actor(c), p)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newPage(res, orgRegionID, newRegionResponse))
}

func (h *handlers) getRegion(c *gin.Context) {
	byID(c, h.Org.Region, newRegionResponse)
}

func (h *handlers) updateRegion(c *gin.Context) {
	patchByID(c, func(id int64, r regionPatchRequest) (model.Region, error) {
		return h.Org.UpdateRegion(c.Request.Context(), actor(c), id, org.RegionPatch{Name: r.Name, Code: r.Code})
	}, newRegionResponse)
}

func (h *handlers) regionChildren(c *gin.Context) {
	listByID(c, func(id int64, p service.Page) (service.Paged[model.Region], error) {
		return h.Org.RegionChildren(c.Request.Context(), actor(c), id, p)
	}, orgRegionID, newRegionResponse)
}

func (h *handlers) regionCompounds(c *gin.Context) {
	listByID(c, func(id int64, p service.Page) (service.Paged[model.Compound], error) {
		return h.Org.Compounds(c.Request.Context(), actor(c), id, p)
	}, orgCompoundID, newCompoundResponse)
}

func (h *handlers) regionGrids(c *gin.Context) {
	listByID(c, func(id int64, p service.Page) (service.Paged[model.Grid], error) {
		return h.Org.Grids(c.Request.Context(), actor(c), id, p)
	}, orgGridID, newGridResponse)
}

func (h *handlers) regionCommittees(c *gin.Context) {
	listByID(c, func(id int64, p service.Page) (service.Paged[model.Committee], error) {
		return h.Org.Committees(c.Request.Context(), actor(c), id, p)
	}, func(m model.Committee) int64 { return m.ID }, newCommitteeResponse)
}

func (h *handlers) regionDepartments(c *gin.Context) {
	listByID(c, func(id int64, p service.Page) (service.Paged[model.Department], error) {
		return h.Org.Departments(c.Request.Context(), actor(c), id, p)
	}, func(d model.Department) int64 { return d.ID }, newDepartmentResponse)
}

// ---- compounds ----

type compoundRequest struct {
	CommunityID int64  `json:"community_id"`
	Name        string `json:"name"`
	Address     string `json:"address"`
}

type compoundPatchRequest struct {
	Name    *string `json:"name"`
	Address *string `json:"address"`
}

type compoundResponse struct {
	ID      int64  `json:"id"`
	Name    string `json:"name"`
	Address string `json:"address"`
	orgAncestry
	orgTimes
}

func newCompoundResponse(v model.Compound) compoundResponse {
	return compoundResponse{ID: v.ID, Name: v.Name, Address: v.Address, orgAncestry: newOrgAncestry(v.Ancestry), orgTimes: newOrgTimes(v.Base)}
}

func orgCompoundID(v model.Compound) int64 { return v.ID }

func (h *handlers) createCompound(c *gin.Context) {
	createJSON(c, func(r compoundRequest) (model.Compound, error) {
		return h.Org.CreateCompound(c.Request.Context(), actor(c), org.CompoundInput{CommunityID: r.CommunityID, Name: r.Name, Address: r.Address})
	}, newCompoundResponse)
}

func (h *handlers) getCompound(c *gin.Context) {
	byID(c, h.Org.Compound, newCompoundResponse)
}

func (h *handlers) updateCompound(c *gin.Context) {
	patchByID(c, func(id int64, r compoundPatchRequest) (model.Compound, error) {
		return h.Org.UpdateCompound(c.Request.Context(), actor(c), id, org.CompoundPatch{Name: r.Name, Address: r.Address})
	}, newCompoundResponse)
}

func (h *handlers) compoundBuildings(c *gin.Context) {
	listByID(c, func(id int64, p service.Page) (service.Paged[model.Building], error) {
		return h.Org.CompoundBuildings(c.Request.Context(), actor(c), id, p)
	}, orgBuildingID, newBuildingResponse)
}

func (h *handlers) compoundContracts(c *gin.Context) {
	listByID(c, func(id int64, p service.Page) (service.Paged[org.ContractView], error) {
		return h.Org.CompoundContracts(c.Request.Context(), actor(c), id, p)
	}, orgContractID, newContractResponse)
}

// ---- grids ----

type gridRequest struct {
	CommunityID int64  `json:"community_id"`
	Name        string `json:"name"`
}

type gridPatchRequest struct {
	Name *string `json:"name"`
}

type gridResponse struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	orgAncestry
	orgTimes
}

func newGridResponse(g model.Grid) gridResponse {
	return gridResponse{ID: g.ID, Name: g.Name, orgAncestry: newOrgAncestry(g.Ancestry), orgTimes: newOrgTimes(g.Base)}
}

func orgGridID(g model.Grid) int64 { return g.ID }

func (h *handlers) createGrid(c *gin.Context) {
	createJSON(c, func(r gridRequest) (model.Grid, error) {
		return h.Org.CreateGrid(c.Request.Context(), actor(c), org.GridInput{CommunityID: r.CommunityID, Name: r.Name})
	}, newGridResponse)
}

func (h *handlers) getGrid(c *gin.Context) {
	byID(c, h.Org.Grid, newGridResponse)
}

func (h *handlers) updateGrid(c *gin.Context) {
	patchByID(c, func(id int64, r gridPatchRequest) (model.Grid, error) {
		return h.Org.RenameGrid(c.Request.Context(), actor(c), id, r.Name)
	}, newGridResponse)
}

func (h *handlers) gridBuildings(c *gin.Context) {
	listByID(c, func(id int64, p service.Page) (service.Paged[model.Building], error) {
		return h.Org.GridBuildings(c.Request.Context(), actor(c), id, p)
	}, orgBuildingID, newBuildingResponse)
}

// ---- buildings ----

type buildingRequest struct {
	CompoundID int64  `json:"compound_id"`
	GridID     int64  `json:"grid_id"`
	Name       string `json:"name"`
}

type buildingPatchRequest struct {
	Name *string `json:"name"`
}

type buildingResponse struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	orgAncestry
	orgTimes
}

func newBuildingResponse(b model.Building) buildingResponse {
	return buildingResponse{ID: b.ID, Name: b.Name, orgAncestry: newOrgAncestry(b.Ancestry), orgTimes: newOrgTimes(b.Base)}
}

func orgBuildingID(b model.Building) int64 { return b.ID }

func (h *handlers) createBuilding(c *gin.Context) {
	createJSON(c, func(r buildingRequest) (model.Building, error) {
		return h.Org.CreateBuilding(c.Request.Context(), actor(c), org.BuildingInput{CompoundID: r.CompoundID, GridID: r.GridID, Name: r.Name})
	}, newBuildingResponse)
}

func (h *handlers) getBuilding(c *gin.Context) {
	byID(c, h.Org.Building, newBuildingResponse)
}

func (h *handlers) updateBuilding(c *gin.Context) {
	patchByID(c, func(id int64, r buildingPatchRequest) (model.Building, error) {
		return h.Org.RenameBuilding(c.Request.Context(), actor(c), id, r.Name)
	}, newBuildingResponse)
}

func (h *handlers) buildingHouseholds(c *gin.Context) {
	listByID(c, func(id int64, p service.Page) (service.Paged[model.Household], error) {
		return h.Org.BuildingHouseholds(c.Request.Context(), actor(c), id, p)
	}, func(v model.Household) int64 { return v.ID }, newOrgHouseholdResponse)
}

// ---- households ----

type householdRequest struct {
	BuildingID int64  `json:"building_id"`
	Unit       string `json:"unit"`
	Room       string `json:"room"`
	AreaM2     string `json:"area_m2"`
}

type householdPatchRequest struct {
	Unit   *string `json:"unit"`
	Room   *string `json:"room"`
	AreaM2 *string `json:"area_m2"`
}

type orgHouseholdResponse struct {
	ID     int64  `json:"id"`
	Unit   string `json:"unit"`
	Room   string `json:"room"`
	AreaM2 string `json:"area_m2"` // exact decimal, e.g. "89.50"
	orgAncestry
	orgTimes
}

func newOrgHouseholdResponse(v model.Household) orgHouseholdResponse {
	return orgHouseholdResponse{ID: v.ID, Unit: v.Unit, Room: v.Room, AreaM2: model.FormatArea(v.AreaCentiM2),
		orgAncestry: newOrgAncestry(v.Ancestry), orgTimes: newOrgTimes(v.Base)}
}

func (h *handlers) createHousehold(c *gin.Context) {
	createJSON(c, func(r householdRequest) (model.Household, error) {
		return h.Org.CreateHousehold(c.Request.Context(), actor(c), org.HouseholdInput{BuildingID: r.BuildingID, Unit: r.Unit, Room: r.Room, Area: r.AreaM2})
	}, newOrgHouseholdResponse)
}

func (h *handlers) getHousehold(c *gin.Context) {
	byID(c, h.Org.Household, newOrgHouseholdResponse)
}

func (h *handlers) updateHousehold(c *gin.Context) {
	patchByID(c, func(id int64, r householdPatchRequest) (model.Household, error) {
		return h.Org.UpdateHousehold(c.Request.Context(), actor(c), id, org.HouseholdPatch{Unit: r.Unit, Room: r.Room, Area: r.AreaM2})
	}, newOrgHouseholdResponse)
}

// ---- CSV import ----

var (
	errImportType    = service.Unsupported("unsupported_upload", "请以 multipart/form-data（文件字段 file）或 text/csv 上传 UTF-8 编码的 CSV 文件")
	errImportForm    = service.Invalid("bad_multipart", "上传表单格式不正确")
	errImportMissing = service.Invalid("file_missing", "请求中没有文件：文件字段名应为 file")
)

type orgImportResponse struct {
	BuildingsCreated    int `json:"buildings_created"`
	HouseholdsCreated   int `json:"households_created"`
	HouseholdsUpdated   int `json:"households_updated"`
	HouseholdsUnchanged int `json:"households_unchanged"`
}

// importHouseholds takes the CSV as the "file" part of a multipart form
// or as a text/csv body, streamed to the service (which caps its size).
func (h *handlers) importHouseholds(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	mt, params, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil {
		fail(c, errImportType)
		return
	}
	if cs := strings.ToLower(params["charset"]); cs != "" && cs != "utf-8" && cs != "utf8" {
		fail(c, errImportType)
		return
	}
	var body io.Reader
	switch mt {
	case "text/csv", "application/csv", "text/plain":
		body = c.Request.Body
	case "multipart/form-data":
		mr, err := c.Request.MultipartReader()
		if err != nil {
			fail(c, errImportForm)
			return
		}
		for body == nil {
			part, err := mr.NextPart()
			if err != nil {
				fail(c, orgUploadError(err, errImportMissing))
				return
			}
			if part.FormName() == "file" {
				body = part
			} else {
				part.Close()
			}
		}
	default:
		fail(c, errImportType)
		return
	}
	res, err := h.Org.ImportHouseholds(c.Request.Context(), actor(c), id, orgUploadReader{body})
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, orgImportResponse{BuildingsCreated: res.BuildingsCreated, HouseholdsCreated: res.HouseholdsCreated,
		HouseholdsUpdated: res.HouseholdsUpdated, HouseholdsUnchanged: res.HouseholdsUnchanged})
}

// orgUploadReader turns the body limit's error into the 413 the service
// passes on as is: the service knows nothing of net/http.
type orgUploadReader struct{ r io.Reader }

func (u orgUploadReader) Read(p []byte) (int, error) {
	n, err := u.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = orgUploadError(err, errImportForm)
	}
	return n, err
}

// orgUploadError names a failure to read an upload: too large, or else
// otherwise (a malformed form, a missing part).
func orgUploadError(err error, otherwise *service.Error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return errBodyTooBig
	}
	return otherwise.Wrap(err)
}

// ---- firms ----

type firmRequest struct {
	DistrictID int64  `json:"district_id"`
	Name       string `json:"name"`
	CreditCode string `json:"credit_code"`
	Hotline    string `json:"hotline"`
}

type firmPatchRequest struct {
	Name       *string `json:"name"`
	CreditCode *string `json:"credit_code"`
	Hotline    *string `json:"hotline"`
}

type firmResponse struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	CreditCode string `json:"credit_code"`
	Hotline    string `json:"hotline"`
	CityID     int64  `json:"city_id"`
	DistrictID int64  `json:"district_id"`
	orgTimes
}

func newFirmResponse(f model.Firm) firmResponse {
	out := firmResponse{ID: f.ID, Name: f.Name, Hotline: f.Hotline, CityID: f.CityID, DistrictID: f.DistrictID, orgTimes: newOrgTimes(f.Base)}
	if f.CreditCode != nil {
		out.CreditCode = *f.CreditCode
	}
	return out
}

func (h *handlers) createFirm(c *gin.Context) {
	createJSON(c, func(r firmRequest) (model.Firm, error) {
		return h.Org.CreateFirm(c.Request.Context(), actor(c), org.FirmInput{DistrictID: r.DistrictID, Name: r.Name, CreditCode: r.CreditCode, Hotline: r.Hotline})
	}, newFirmResponse)
}

func (h *handlers) listFirms(c *gin.Context) {
	p, ok := page(c)
	if !ok {
		return
	}
	var f org.FirmFilter
	if f.DistrictID, ok = queryID(c, "district_id"); !ok {
		return
	}
	res, err := h.Org.Firms(c.Request.Context(), actor(c), f, p)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newPage(res, func(f model.Firm) int64 { return f.ID }, newFirmResponse))
}

func (h *handlers) getFirm(c *gin.Context) {
	byID(c, h.Org.Firm, newFirmResponse)
}

func (h *handlers) updateFirm(c *gin.Context) {
	patchByID(c, func(id int64, r firmPatchRequest) (model.Firm, error) {
		return h.Org.UpdateFirm(c.Request.Context(), actor(c), id, org.FirmPatch{Name: r.Name, CreditCode: r.CreditCode, Hotline: r.Hotline})
	}, newFirmResponse)
}

func (h *handlers) firmContracts(c *gin.Context) {
	listByID(c, func(id int64, p service.Page) (service.Paged[org.ContractView], error) {
		return h.Org.FirmContracts(c.Request.Context(), actor(c), id, p)
	}, orgContractID, newContractResponse)
}

// ---- contracts ----

var errContractDate = service.Invalid("bad_dates", "日期格式应为 2026-01-01")

type contractRequest struct {
	FirmID         int64  `json:"firm_id"`
	CompoundID     int64  `json:"compound_id"`
	StartsOn       string `json:"starts_on"`
	EndsOn         string `json:"ends_on"`
	ProjectManager string `json:"project_manager"`
	ManagerPhone   string `json:"manager_phone"`
	Hotline24      string `json:"hotline_24h"`
}

type contractPatchRequest struct {
	StartsOn       *string `json:"starts_on"`
	EndsOn         *string `json:"ends_on"`
	ProjectManager *string `json:"project_manager"`
	ManagerPhone   *string `json:"manager_phone"`
	Hotline24      *string `json:"hotline_24h"`
}

type contractResponse struct {
	ID           int64  `json:"id"`
	FirmID       int64  `json:"firm_id"`
	FirmName     string `json:"firm_name"`
	CompoundName string `json:"compound_name"`
	StartsOn     string `json:"starts_on"` // calendar date, both ends included
	EndsOn       string `json:"ends_on"`
	// ProjectManager, ManagerPhone and Hotline24 are shown on the
	// compound's disclosure board.
	ProjectManager string `json:"project_manager"`
	ManagerPhone   string `json:"manager_phone"`
	Hotline24      string `json:"hotline_24h"`
	orgAncestry
	orgTimes
}

func newContractResponse(k org.ContractView) contractResponse {
	return contractResponse{ID: k.ID, FirmID: k.FirmID, FirmName: k.FirmName, CompoundName: k.CompoundName,
		StartsOn: k.StartsOn.UTC().Format(time.DateOnly), EndsOn: k.EndsOn.UTC().Format(time.DateOnly),
		ProjectManager: k.ProjectManager, ManagerPhone: k.ManagerPhone, Hotline24: k.Hotline24,
		orgAncestry: newOrgAncestry(k.Ancestry), orgTimes: newOrgTimes(k.Base)}
}

func orgContractID(k org.ContractView) int64 { return k.ID }

// orgParseDay reads a calendar date; contract dates carry no time of day.
func orgParseDay(s string) (time.Time, error) {
	d, err := time.Parse(time.DateOnly, strings.TrimSpace(s))
	if err == nil {
		err = saneYear(d)
	}
	if err != nil {
		return d, errContractDate
	}
	return d, nil
}

func orgParseDayPtr(s *string) (*time.Time, error) {
	if s == nil {
		return nil, nil
	}
	d, err := orgParseDay(*s)
	return &d, err
}

func (h *handlers) createContract(c *gin.Context) {
	createJSON(c, func(r contractRequest) (org.ContractView, error) {
		from, err := orgParseDay(r.StartsOn)
		if err != nil {
			return org.ContractView{}, err
		}
		to, err := orgParseDay(r.EndsOn)
		if err != nil {
			return org.ContractView{}, err
		}
		return h.Org.CreateContract(c.Request.Context(), actor(c), org.ContractInput{FirmID: r.FirmID, CompoundID: r.CompoundID, StartsOn: from, EndsOn: to,
			ProjectManager: r.ProjectManager, ManagerPhone: r.ManagerPhone, Hotline24: r.Hotline24})
	}, newContractResponse)
}

func (h *handlers) getContract(c *gin.Context) {
	byID(c, h.Org.Contract, newContractResponse)
}

func (h *handlers) updateContract(c *gin.Context) {
	patchByID(c, func(id int64, r contractPatchRequest) (org.ContractView, error) {
		from, err := orgParseDayPtr(r.StartsOn)
		if err != nil {
			return org.ContractView{}, err
		}
		to, err := orgParseDayPtr(r.EndsOn)
		if err != nil {
			return org.ContractView{}, err
		}
		return h.Org.UpdateContract(c.Request.Context(), actor(c), id, org.ContractPatch{StartsOn: from, EndsOn: to,
			ProjectManager: r.ProjectManager, ManagerPhone: r.ManagerPhone, Hotline24: r.Hotline24})
	}, newContractResponse)
}

// ---- committees ----

type committeeRequest struct {
	CompoundID int64  `json:"compound_id"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
}

type committeePatchRequest struct {
	Kind *string `json:"kind"`
	Name *string `json:"name"`
}

type committeeResponse struct {
	ID   int64  `json:"id"`
	Kind string `json:"kind"`
	Name string `json:"name"`
	orgAncestry
	orgTimes
}

func newCommitteeResponse(m model.Committee) committeeResponse {
	return committeeResponse{ID: m.ID, Kind: m.Kind, Name: m.Name, orgAncestry: newOrgAncestry(m.Ancestry), orgTimes: newOrgTimes(m.Base)}
}

func (h *handlers) createCommittee(c *gin.Context) {
	createJSON(c, func(r committeeRequest) (model.Committee, error) {
		return h.Org.CreateCommittee(c.Request.Context(), actor(c), org.CommitteeInput{CompoundID: r.CompoundID, Kind: r.Kind, Name: r.Name})
	}, newCommitteeResponse)
}

func (h *handlers) getCommittee(c *gin.Context) {
	byID(c, h.Org.Committee, newCommitteeResponse)
}

func (h *handlers) updateCommittee(c *gin.Context) {
	patchByID(c, func(id int64, r committeePatchRequest) (model.Committee, error) {
		return h.Org.UpdateCommittee(c.Request.Context(), actor(c), id, org.CommitteePatch{Kind: r.Kind, Name: r.Name})
	}, newCommitteeResponse)
}

// ---- departments ----

type departmentRequest struct {
	RegionID int64  `json:"region_id"`
	Name     string `json:"name"`
	Kind     string `json:"kind"`
}

type departmentPatchRequest struct {
	Name *string `json:"name"`
	Kind *string `json:"kind"`
}

type departmentResponse struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	Kind string `json:"kind"`
	orgAncestry
	orgTimes
}

func newDepartmentResponse(d model.Department) departmentResponse {
	return departmentResponse{ID: d.ID, Name: d.Name, Kind: d.Kind, orgAncestry: newOrgAncestry(d.Ancestry), orgTimes: newOrgTimes(d.Base)}
}

func (h *handlers) createDepartment(c *gin.Context) {
	createJSON(c, func(r departmentRequest) (model.Department, error) {
		return h.Org.CreateDepartment(c.Request.Context(), actor(c), org.DepartmentInput{RegionID: r.RegionID, Name: r.Name, Kind: r.Kind})
	}, newDepartmentResponse)
}

func (h *handlers) getDepartment(c *gin.Context) {
	byID(c, h.Org.Department, newDepartmentResponse)
}

func (h *handlers) updateDepartment(c *gin.Context) {
	patchByID(c, func(id int64, r departmentPatchRequest) (model.Department, error) {
		return h.Org.UpdateDepartment(c.Request.Context(), actor(c), id, org.DepartmentPatch{Name: r.Name, Kind: r.Kind})
	}, newDepartmentResponse)
}
