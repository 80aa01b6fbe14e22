package vote

import (
	"context"
	"errors"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// CastInput is one household's ballot.
type CastInput struct {
	HouseholdID int64
	Choice      int // index into the vote's choices
}

// Cast records the ballot of a household, cast by one of its owners. A
// household votes once: its ballot is final the moment it is cast (a
// second one is 409), and nothing is cast after the closing time.
func (s *Service) Cast(ctx context.Context, a *service.Actor, id int64, in CastInput) (View, error) {
	if a == nil {
		return View{}, service.ErrUnauthenticated
	}
	if in.HouseholdID <= 0 {
		return View{}, errBadHousehold
	}
	if in.Choice < 0 {
		return View{}, errBadChoice
	}
	own, err := model.Ownership(ctx, s.db, a.UserID, in.HouseholdID)
	if errors.Is(err, model.ErrNotFound) {
		return View{}, errNotOwner
	}
	if err != nil {
		return View{}, err
	}
	now := s.clock.Now().UTC()
	err = model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		// The vote's row lock orders every ballot against the count at
		// closing, and against the other ballots of the same owner.
		v, err := take(ctx, tx, id, true)
		if err != nil {
			return err
		}
		// A vote of another compound does not exist for this owner: its
		// state and choices are not theirs to learn.
		if v.CompoundID != own.CompoundID {
			return errVoteNotFound
		}
		switch {
		case v.State == model.VoteDraft:
			return errNotOpen
		case v.State != model.VoteOpen, !v.ClosesAt.After(now):
			return errClosed
		case in.Choice >= len(v.Choices):
			return errBadChoice
		}
		roll, err := model.RollEntry(ctx, tx, v.ID, in.HouseholdID)
		if errors.Is(err, model.ErrNotFound) {
			return errNotOnRoll
		}
		if err != nil {
			return err
		}
		prior, err := model.PriorBallots(ctx, tx, v.ID, in.HouseholdID, roll.HeadKey)
		if err != nil {
			return err
		}
		heads := 1
		for _, b := range prior {
			if b.HouseholdID == in.HouseholdID {
				return errAlreadyVoted
			}
			heads = 0 // this owner already counts by head through another household
		}
		b := model.Ballot{VoteID: v.ID, HouseholdID: in.HouseholdID, UserID: a.UserID, Choice: in.Choice,
			AreaCentiM2: roll.AreaCentiM2, HeadKey: roll.HeadKey, Heads: heads, CreatedAt: now}
		if err := model.Create(ctx, tx, &b); err != nil {
			if errors.Is(err, model.ErrDuplicate) {
				return errAlreadyVoted
			}
			return err
		}
		return nil
	})
	if err != nil {
		return View{}, err
	}
	return s.Get(ctx, a, id)
}

// BallotView is one ballot of an open-ballot vote.
type BallotView struct {
	Ballot         model.Ballot
	HouseholdLabel string
	ChoiceLabel    string
	VoterName      string // for the committee and staff only
}

// Ballots lists who voted what, newest first: only for an open-ballot
// (记名) vote, and only once it closed. Owners of the compound see the
// households and their choices; the committee and staff also see the
// name of the owner who cast each ballot.
func (s *Service) Ballots(ctx context.Context, a *service.Actor, id int64, p service.Page) (service.Paged[BallotView], error) {
	if a == nil {
		return service.Paged[BallotView]{}, service.ErrUnauthenticated
	}
	v, err := take(ctx, s.db, id, false)
	if err != nil {
		return service.Paged[BallotView]{}, err
	}
	acc, err := s.access(ctx, a, v)
	if err != nil {
		return service.Paged[BallotView]{}, err
	}
	if !v.OpenBallot {
		return service.Paged[BallotView]{}, errSecretBallot
	}
	if v.State != model.VoteClosed {
		return service.Paged[BallotView]{}, errBallotsPending
	}
	rows, err := model.BallotPage(ctx, s.db, v.ID, p.After, p.Limit+1)
	if err != nil {
		return service.Paged[BallotView]{}, err
	}
	page := service.Cut(rows, p.Limit)
	var hids, uids []int64
	for _, b := range page.Items {
		hids, uids = append(hids, b.HouseholdID), append(uids, b.UserID)
	}
	out := service.Paged[BallotView]{Items: make([]BallotView, 0, len(page.Items)), More: page.More}
	if len(hids) == 0 {
		return out, nil
	}
	homes, err := model.HouseholdPlaces(ctx, s.db, hids)
	if err != nil {
		return service.Paged[BallotView]{}, err
	}
	names := map[int64]string{}
	if acc.manager || acc.organiser {
		if names, err = model.UserNames(ctx, s.db, uids); err != nil {
			return service.Paged[BallotView]{}, err
		}
	}
	for _, b := range page.Items {
		bv := BallotView{Ballot: b, HouseholdLabel: label(homes[b.HouseholdID]), VoterName: names[b.UserID]}
		if b.Choice < len(v.Choices) {
			bv.ChoiceLabel = v.Choices[b.Choice]
		}
		out.Items = append(out.Items, bv)
	}
	return out, nil
}
