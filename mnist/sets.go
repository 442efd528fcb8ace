package mnist

import (
	"fmt"
	"io/fs"
	"slices"
	"strings"
)

// Data sets in MNIST's IDX format, by the names the trainer knows them by.
const (
	// Digits is MNIST, the handwritten digits 0-9 (LeCun et al.).
	Digits = "mnist"
	// Fashion is Fashion-MNIST (Xiao, Rasul and Vollgraf, Zalando 2017):
	// 28×28 grey images of ten kinds of clothing in MNIST's files, made
	// because MNIST had become too easy.
	Fashion = "fashion"
)

// Sets lists the names of the data sets this package knows.
var Sets = []string{Digits, Fashion}

// FashionClasses are the names of Fashion-MNIST's ten classes, by label.
var FashionClasses = []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}

// digitClasses are MNIST's, by label.
var digitClasses = []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}

// fashionDirs are where systems put Fashion-MNIST's files: Debian's and
// Ubuntu's package dataset-fashion-mnist.
var fashionDirs = []string{"/usr/share/datasets/fashion-mnist"}

// CheckSet reports a data-set name this package does not know; "" is MNIST.
func CheckSet(name string) error {
	if name == "" || slices.Contains(Sets, name) {
		return nil
	}
	return fmt.Errorf("unknown data set %q: want %s", name, strings.Join(Sets, " or "))
}

// Classes returns the names of the classes of the named data set (""
// is MNIST), by label.
func Classes(name string) ([]string, error) {
	if err := CheckSet(name); err != nil {
		return nil, err
	}
	if name == Fashion {
		return slices.Clone(FashionClasses), nil
	}
	return slices.Clone(digitClasses), nil
}

// DirOf returns the folder that holds the named data set's IDX files (""
// is MNIST): DefaultDir for MNIST, the folder Debian's
// dataset-fashion-mnist package installs for Fashion-MNIST. Where the files
// are missing, the error says how to get them.
func DirOf(name string) (string, error) {
	if err := CheckSet(name); err != nil {
		return "", err
	}
	if name != Fashion {
		return DefaultDir()
	}
	for _, dir := range fashionDirs {
		if mnistHasFiles(dir) {
			return dir, nil
		}
	}
	return "", &DataError{fmt.Errorf("cannot find Fashion-MNIST: %s holds no train-images-idx3-ubyte.gz; "+
		"install it with `apt-get install dataset-fashion-mnist` (Debian, Ubuntu), or download the four .gz files "+
		"from https://github.com/zalandoresearch/fashion-mnist and give their folder: %w",
		strings.Join(fashionDirs, ", "), fs.ErrNotExist)}
}
