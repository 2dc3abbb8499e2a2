// Package tree holds plain data for what mlaudit fetched: one manifest (an
// image index or an image manifest) with its config and its children, each
// either fetched or marked with why it could not be.
//
// The registry package builds trees; the audit and repair packages read
// them. Nothing here talks to a network or a disk, so rules can be tested on
// hand-made trees and library users can feed trees from their own sources.
package tree
